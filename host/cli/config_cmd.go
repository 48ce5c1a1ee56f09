package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// newConfigCmd: cdp config validate|show
func newConfigCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check and inspect the configuration",
		Long: `Check a configuration file, or show the configuration cdp would run with and
where each value comes from (default, file, environment variable or flag).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newConfigValidateCmd(a), newConfigShowCmd(a))
	return cmd
}

// newConfigValidateCmd: cdp config validate [FILE] [--no-env]
func newConfigValidateCmd(a *app) *cobra.Command {
	var noEnv bool
	cmd := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check a configuration file without starting anything",
		Long: `Load a configuration file the way 'cdp serve' does (defaults, the file, CDP_
environment variables, --set) and check every value, without starting
anything. Prints "ok" and exits 0, or lists every problem, each naming the
key and where its value came from, and exits 1:

  config: cdp.yaml: grid.min_size: must be > 0, got -5
  config: env CDP_API_PORT: api.port: want an integer, got "http"

FILE defaults to --config, then $CDP_CONFIG; with none, the built-in
defaults and the environment are checked.`,
		Example: `  cdp config validate /etc/cdp.yaml
  cdp config validate --no-env deploy/cdp.example.yaml`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			fileArg := ""
			if len(args) == 1 {
				fileArg = args[0]
			}
			src, err := a.configSources(cmd, fileArg, nil, nil)
			if err != nil {
				return err
			}
			src.NoEnv = noEnv
			_, prov, err := config.Origins(src)
			name := src.File
			if name == "" {
				name = "(no file)"
			}
			if err != nil {
				problems := config.FieldErrors(err)
				w := cmd.ErrOrStderr()
				fmt.Fprintln(w, err)
				if len(problems) > 1 {
					fmt.Fprintf(w, "%s: %d problems\n", name, len(problems))
				}
				return reportedError{err}
			}
			env := 0
			for _, s := range prov {
				if strings.HasPrefix(s, "env ") {
					env++
				}
			}
			if env > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "ok: %s (with %d key(s) from CDP_ environment variables)\n", name, env)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "ok: %s\n", name)
			}
			return nil
		},
	}
	boolSwitch(cmd.Flags(), &noEnv, "no-env", "", "ignore CDP_ environment variables (check the file alone)")
	return cmd
}

// newConfigShowCmd: cdp config show [--json]
func newConfigShowCmd(a *app) *cobra.Command {
	var asJSON, noEnv bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration and where each value comes from",
		Long: `Print every key with the value cdp would run with and its source: "defaults",
the file, "env CDP_..." or "flag --...". Passwords in database settings are
masked.`,
		Example: `  cdp config show --config /etc/cdp.yaml
  CDP_API_PORT=9090 cdp config show | grep api.port`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := a.configSources(cmd, "", nil, nil)
			if err != nil {
				return err
			}
			src.NoEnv = noEnv
			cfg, prov, err := config.Origins(src)
			if err != nil {
				return err
			}
			flat := config.Flat(cfg)
			keys := make([]string, 0, len(flat))
			for k := range flat {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			w := cmd.OutOrStdout()
			if asJSON {
				type entry struct {
					Key    string `json:"key"`
					Value  any    `json:"value"`
					Source string `json:"source"`
				}
				out := make([]entry, len(keys))
				for i, k := range keys {
					out[i] = entry{k, jsonValue(k, flat[k]), prov[k]}
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			width := 0
			for _, k := range keys {
				width = max(width, len(k)+len(showValue(k, flat[k]))+3)
			}
			for _, k := range keys {
				line := k + " = " + showValue(k, flat[k])
				fmt.Fprintf(w, "%-*s  # %s\n", width, line, prov[k])
			}
			return nil
		},
	}
	boolSwitch(cmd.Flags(), &asJSON, "json", "", "print a JSON array of {key, value, source}")
	boolSwitch(cmd.Flags(), &noEnv, "no-env", "", "ignore CDP_ environment variables")
	return cmd
}

// redact masks secrets: passwords and the password part of a DSN.
func redact(key string, v any) any {
	s, ok := v.(string)
	if !ok || s == "" {
		return v
	}
	switch {
	case strings.HasSuffix(key, ".password"):
		return "*****"
	case strings.HasSuffix(key, ".dsn"):
		if u, err := url.Parse(s); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "*****")
				return u.String()
			}
			return s
		}
		if strings.Contains(s, "password=") {
			return "(key=value DSN with a password, masked)"
		}
	}
	return s
}

func jsonValue(key string, v any) any {
	v = redact(key, v)
	if d, ok := v.(time.Duration); ok {
		return d.Seconds()
	}
	return v
}

func showValue(key string, v any) string {
	v = redact(key, v)
	switch x := v.(type) {
	case time.Duration:
		return fmt.Sprintf("%gs", x.Seconds())
	case string:
		return fmt.Sprintf("%q", x)
	case []string, map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}
