package web

import (
	"errors"
	"fmt"
)

// ErrNotBuilt reports a binary built without the dashboard's files: run
// `make web` (or check out dist/, which is committed).
var ErrNotBuilt = errors.New("web: dist/index.html is missing: run `make web`")

func errorf(format string, args ...any) error {
	return fmt.Errorf("web: "+format, args...)
}
