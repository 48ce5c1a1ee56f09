package cli

import (
	"strconv"

	"github.com/spf13/pflag"
)

// switchValue is a boolean flag that pflag prints as "--name" in help
// instead of "--name[=true|false]" (pflag 1.1 adds that suffix to every
// plain bool flag, which reads as noise to a newcomer). It still accepts
// --name, --name=true and --name=false, and reports type "bool" so
// FlagSet.GetBool and koanf's posflag provider read it as a bool.
type switchValue struct{ p *bool }

func (s switchValue) String() string {
	if s.p == nil {
		return "false"
	}
	return strconv.FormatBool(*s.p)
}

func (s switchValue) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	*s.p = b
	return nil
}

func (s switchValue) Type() string { return "bool" }

// boolSwitch defines a boolean flag shown without the [=true|false] suffix.
func boolSwitch(fs *pflag.FlagSet, p *bool, name, shorthand, usage string) {
	f := fs.VarPF(switchValue{p}, name, shorthand, usage)
	f.NoOptDefVal = "true"
	f.DefValue = "false"
}

var _ pflag.Value = switchValue{}
