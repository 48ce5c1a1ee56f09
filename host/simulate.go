package host

import (
	"context"
	"errors"
)

// simulator returns the feed of `serve --simulate N`.
func (n *Node) simulator(count int) (func(context.Context), error) {
	return nil, errors.New("host: --simulate: the simulator is not wired yet")
}
