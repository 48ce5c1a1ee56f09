package config

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// EnvPrefix starts every environment variable cdp reads.
const EnvPrefix = "CDP_"

// EnvConfigFile names the variable that gives the config file path when no
// --config flag does. It is read by the command line, not by Load.
const EnvConfigFile = "CDP_CONFIG"

// Sources says where Load takes settings from, lowest precedence first:
// Default(), then File, then the environment, then Flags, then Overrides.
type Sources struct {
	// File is a YAML file; "" reads none.
	File string
	// NoEnv skips the environment (the CDP_ variables). Default false.
	NoEnv bool
	// Flags holds command-line flags; a flag overrides the key FlagKeys maps
	// its name to, and only if the user set it (its default never overrides a
	// value from the file or the environment).
	Flags *pflag.FlagSet
	// FlagKeys maps flag names to dotted keys ("port" -> "api.port"). Flags
	// not in it are ignored.
	FlagKeys map[string]string
	// Overrides are applied last, in order ("--set key=value" and flags that
	// expand to several keys).
	Overrides []Override
}

// Override sets one key from text, parsed as the environment is parsed.
type Override struct {
	// Key is the dotted key, e.g. "grid.shards".
	Key string
	// Value is the text, e.g. "128", "0.5", "100ms", "a,b", `{"k":1}`.
	Value string
	// Source names the override in errors, e.g. "flag --set".
	Source string
}

// ParseOverride parses "key=value" (the --set flag's form).
func ParseOverride(s, source string) (Override, error) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return Override{}, fmt.Errorf("config: %s: want key=value, got %q", source, s)
	}
	return Override{Key: k, Value: v, Source: source}, nil
}

const sourceDefaults = "defaults"

// Load builds the configuration from defaults, src.File, the environment,
// flags and overrides, in that order of precedence, and validates it. The
// error, if any, is an Errors listing every problem, each naming the key and
// where its value came from.
func Load(src Sources) (Config, error) {
	c, _, errs := load(src)
	if len(errs) > 0 {
		return Config{}, errs
	}
	return c, nil
}

// Origins is like Load but also returns, for every leaf key, where its value
// came from ("defaults", the file path, "env CDP_API_PORT", "flag --port").
func Origins(src Sources) (Config, map[string]string, error) {
	c, prov, errs := load(src)
	if len(errs) > 0 {
		return Config{}, nil, errs
	}
	return c, prov, nil
}

type layer struct {
	raw      map[string]any
	srcOf    func(key string) string
	fromText bool
}

func load(src Sources) (Config, map[string]string, Errors) {
	var errs Errors
	prov := map[string]string{}
	ko := koanf.New(".")

	apply := func(l layer) {
		clean := normalize(l.raw, "", schema(), l, &errs, prov)
		if err := ko.Load(mapProvider(clean), nil); err != nil {
			errs = append(errs, &FieldError{Source: l.srcOf(""), Reason: ErrSource, Msg: err.Error()})
		}
	}

	apply(layer{raw: toMap(Default()), srcOf: func(string) string { return sourceDefaults }})

	if src.File != "" {
		raw, err := readFile(src.File)
		if err != nil {
			return Config{}, nil, Errors{{Source: src.File, Reason: ErrSource, Msg: err.Error()}}
		}
		apply(layer{raw: raw, srcOf: func(string) string { return src.File }})
	}

	if !src.NoEnv {
		raw, vars, envErrs := readEnv()
		errs = append(errs, envErrs...)
		apply(layer{raw: raw, fromText: true, srcOf: func(k string) string {
			if v, ok := vars[k]; ok {
				return "env " + v
			}
			return "environment"
		}})
	}

	if src.Flags != nil && len(src.FlagKeys) > 0 {
		flagOf := map[string]string{}
		p := posflag.ProviderWithFlag(src.Flags, ".", nil, func(f *pflag.Flag) (string, any) {
			key, ok := src.FlagKeys[f.Name]
			if !ok || !f.Changed {
				return "", nil
			}
			flagOf[key] = f.Name
			return key, posflag.FlagVal(src.Flags, f)
		})
		raw, err := p.Read()
		if err != nil {
			errs = append(errs, &FieldError{Source: "flags", Reason: ErrSource, Msg: err.Error()})
		} else {
			apply(layer{raw: raw, fromText: true, srcOf: func(k string) string {
				if f, ok := flagOf[k]; ok {
					return "flag --" + f
				}
				return "flags"
			}})
		}
	}

	for _, o := range src.Overrides {
		source := o.Source
		if source == "" {
			source = "override"
		}
		apply(layer{raw: nest(o.Key, o.Value), fromText: true, srcOf: func(string) string { return source }})
	}

	var c Config
	if err := ko.Unmarshal("", &c); err != nil {
		// Unreachable when normalize did its job: every value is canonical.
		errs = append(errs, &FieldError{Reason: ErrWrongType, Msg: err.Error()})
		return Config{}, nil, errs
	}
	errs = append(errs, validate(&c, prov)...)
	return c, prov, errs
}

func readFile(path string) (map[string]any, error) {
	b, err := file.Provider(path).ReadBytes()
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("cannot read: %w", pe.Err)
		}
		return nil, err
	}
	m, err := yaml.Parser().Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// nest turns "a.b.c" = v into {a: {b: {c: v}}}.
func nest(key string, v any) map[string]any {
	parts := strings.Split(key, ".")
	out := map[string]any{}
	cur := out
	for i, p := range parts {
		if i == len(parts)-1 {
			cur[p] = v
			break
		}
		next := map[string]any{}
		cur[p] = next
		cur = next
	}
	return out
}

// normalize checks raw against the schema node n at prefix, records an
// error for each unknown key or bad value, and returns the accepted part
// with canonical value types. Keys are visited in order so the errors are
// reported in a stable order.
func normalize(raw map[string]any, prefix string, n *node, l layer, errs *Errors, prov map[string]string) map[string]any {
	out := make(map[string]any, len(raw))
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := raw[k]
		key := join(prefix, k)
		var child *node
		switch n.kind {
		case kindSection:
			child = n.children[k]
		case kindMap:
			child = n.elem
			if !validName(k) {
				*errs = append(*errs, &FieldError{Source: l.srcOf(key), Key: key, Reason: ErrOutOfRange,
					Msg: fmt.Sprintf("name %q: use 1 to 64 lower-case letters, digits, '_' and '-'", k)})
				continue
			}
		}
		if child == nil {
			msg := "unknown key"
			if strings.Contains(k, ".") && lookup(key) != nil {
				msg += " (dotted keys are not expanded in a file: nest them, " + strings.ReplaceAll(k, ".", ": ") + ": ...)"
			} else if s := suggest(key); s != "" {
				msg += " (did you mean " + s + "?)"
			}
			*errs = append(*errs, &FieldError{Source: l.srcOf(key), Key: key, Reason: ErrUnknownKey, Msg: msg})
			continue
		}
		if child.kind != kindLeaf {
			if v == nil {
				continue // an empty section ("grid:" with everything commented out)
			}
			m, ok := v.(map[string]any)
			if !ok {
				*errs = append(*errs, &FieldError{Source: l.srcOf(key), Key: key, Reason: ErrWrongType,
					Msg: "want a section (a mapping of keys), got " + describe(v)})
				continue
			}
			out[k] = normalize(m, key, child, l, errs, prov)
			continue
		}
		if v == nil {
			switch child.leaf {
			case leafString:
				v = ""
			case leafStrings:
				v = []any{}
			case leafObject:
				v = map[string]any{}
			default:
				*errs = append(*errs, &FieldError{Source: l.srcOf(key), Key: key, Reason: ErrWrongType,
					Msg: "no value (remove the key to keep the default)"})
				continue
			}
		}
		cv, msg := convert(v, child, l.fromText)
		if msg != "" {
			*errs = append(*errs, &FieldError{Source: l.srcOf(key), Key: key, Reason: ErrWrongType, Msg: msg})
			continue
		}
		out[k] = cv
		prov[key] = l.srcOf(key)
	}
	return out
}

// validName reports whether s can name a vehicle class: 1 to 64 bytes of
// lower-case letters, digits, '_' and '-', starting with a letter or digit.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '_' || r == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// mapProvider feeds an already-parsed map to koanf.
type mapProvider map[string]any

func (m mapProvider) ReadBytes() ([]byte, error) {
	return nil, errors.New("config: map provider has no bytes")
}
func (m mapProvider) Read() (map[string]any, error) { return m, nil }

var _ koanf.Provider = mapProvider(nil)

// readEnv reads the CDP_ variables into a nested map through koanf's env
// provider, and returns which variable set each key. See envKey for the
// naming scheme.
func readEnv() (map[string]any, map[string]string, Errors) {
	vars := map[string]string{}
	var errs Errors
	p := env.ProviderWithValue(EnvPrefix, ".", func(name, value string) (string, any) {
		key, err := envKey(name)
		if err != nil {
			errs = append(errs, err)
			return "", nil
		}
		if key == "" {
			return "", nil
		}
		vars[key] = name
		return key, value
	})
	raw, err := p.Read()
	if err != nil {
		errs = append(errs, &FieldError{Source: "environment", Reason: ErrSource, Msg: err.Error()})
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Source < errs[j].Source })
	return raw, vars, errs
}
