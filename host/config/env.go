package config

import (
	"sort"
	"strings"
	"sync"
)

// Environment variables
//
// Every setting can be set from the environment. There are two spellings:
//
//  1. The short form, for every key that exists in Default(): CDP_ followed
//     by the key in upper case with both the dots and the underscores written
//     as '_':
//
//     api.port                          CDP_API_PORT
//     collision_detection.max_distance  CDP_COLLISION_DETECTION_MAX_DISTANCE
//     collision_detection.classes.default.horizontal
//     CDP_COLLISION_DETECTION_CLASSES_DEFAULT_HORIZONTAL
//
//     '_' alone is ambiguous (is CDP_GRID_MIN_SIZE grid.min_size or
//     grid.min.size?), so the short form is resolved against the table of known
//     keys, never by splitting; a test proves no two keys share a name.
//
//  2. The explicit form, for keys that are not known in advance (a new
//     vehicle class): '__' separates levels and '_' stays part of a name:
//
//     collision_detection.classes.small_drone.horizontal
//     CDP_COLLISION_DETECTION__CLASSES__SMALL_DRONE__HORIZONTAL
//
//     Names are lower-cased, so class names reached this way are lower case
//     (which class names must be anyway).
//
// Values are text: numbers, true/false, durations as seconds ("0.1") or Go
// durations ("100ms"), lists comma-separated ("a:9092,b:9092"), plugin config
// as a JSON object. CDP_CONFIG names the config file. An unknown CDP_
// variable is an error naming it, except the ones Kubernetes injects for a
// Service named cdp (CDP_PORT, CDP_PORT_*, CDP_SERVICE_*) and CDP_TEST_*,
// reserved for test harnesses, which are ignored.

// EnvName returns the short-form environment variable of a dotted key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

var (
	envOnce  sync.Once
	envTable map[string]string // variable name -> key; "" marks an ambiguous name
	envNames []string          // sorted, for suggestions
)

func envKeys() map[string]string {
	envOnce.Do(func() {
		envTable = map[string]string{}
		for _, k := range leafKeys(Default()) {
			name := EnvName(k)
			if _, dup := envTable[name]; dup {
				envTable[name] = ""
				continue
			}
			envTable[name] = k
			envNames = append(envNames, name)
		}
		sort.Strings(envNames)
	})
	return envTable
}

// envKey maps a CDP_ variable to its dotted key; "" and no error means the
// variable is not a setting and is skipped.
func envKey(name string) (string, *FieldError) {
	if name == EnvConfigFile {
		return "", nil
	}
	rest := strings.TrimPrefix(name, EnvPrefix)
	if strings.Contains(rest, "__") {
		return strings.ToLower(strings.ReplaceAll(rest, "__", ".")), nil
	}
	if key, ok := envKeys()[name]; ok {
		if key == "" {
			return "", &FieldError{Source: "env " + name, Reason: ErrConflict,
				Msg: "ambiguous variable: write the levels with '__'"}
		}
		return key, nil
	}
	if name == EnvPrefix+"PORT" || strings.HasPrefix(name, EnvPrefix+"PORT_") || strings.HasPrefix(name, EnvPrefix+"SERVICE_") {
		return "", nil // Kubernetes service links for a Service named cdp
	}
	if strings.HasPrefix(name, EnvPrefix+"TEST_") {
		return "", nil // reserved for test harnesses (CDP_TEST_POSTGRES_DSN...)
	}
	if hint := mapEntryHint(name); hint != "" {
		return "", &FieldError{Source: "env " + name, Reason: ErrUnknownKey,
			Msg: "unknown variable: a name that is not in the defaults needs '__' between levels: " + hint}
	}
	msg := "unknown variable"
	best, bestD := "", len(name)/3+1
	for _, n := range envNames {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		msg += " (did you mean " + best + "?)"
	}
	return "", &FieldError{Source: "env " + name, Reason: ErrUnknownKey, Msg: msg}
}

// mapEntryHint recognises the short form used for a map entry that is not in
// the defaults (CDP_COLLISION_DETECTION_CLASSES_HELI_HORIZONTAL) and returns
// the explicit form that works, or "".
func mapEntryHint(name string) string {
	var hint string
	var walk func(key string, n *node)
	walk = func(key string, n *node) {
		switch n.kind {
		case kindSection:
			for k, c := range n.children {
				walk(join(key, k), c)
			}
		case kindMap:
			prefix := EnvName(key) + "_"
			if !strings.HasPrefix(name, prefix) {
				return
			}
			rest := strings.TrimPrefix(name, prefix)
			for field := range n.elem.children {
				suffix := "_" + strings.ToUpper(field)
				if entry, ok := strings.CutSuffix(rest, suffix); ok && entry != "" {
					hint = EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "__")) +
						"__" + entry + "__" + strings.ToUpper(field)
				}
			}
		}
	}
	walk("", schema())
	return hint
}
