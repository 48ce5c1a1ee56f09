package config

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The schema is derived once from the Config type by reflection over its koanf
// tags, so the struct is the single list of keys: the loader checks every
// incoming key and value against it, the environment mapping is generated
// from it, and the tests compare it with the example file.

type nodeKind uint8

const (
	kindSection nodeKind = iota // a struct: a mapping of known keys
	kindMap                     // map[string]struct: user-named entries
	kindLeaf                    // a value
)

type leafKind uint8

const (
	leafString leafKind = iota
	leafBool
	leafInt
	leafFloat
	leafDuration
	leafStrings // []string
	leafObject  // map[string]any, opaque to cdp (plugin config)
)

type node struct {
	kind     nodeKind
	children map[string]*node // kindSection
	elem     *node            // kindMap
	leaf     leafKind         // kindLeaf
	typ      reflect.Type
}

var (
	schemaOnce sync.Once
	rootSchema *node
)

func schema() *node {
	schemaOnce.Do(func() { rootSchema = buildNode(reflect.TypeFor[Config]()) })
	return rootSchema
}

var durationType = reflect.TypeFor[time.Duration]()

func buildNode(t reflect.Type) *node {
	switch {
	case t == durationType:
		return &node{kind: kindLeaf, leaf: leafDuration, typ: t}
	case t.Kind() == reflect.Struct:
		n := &node{kind: kindSection, children: map[string]*node{}, typ: t}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("koanf")
			if tag == "" || tag == "-" {
				panic("config: field " + t.Name() + "." + f.Name + " has no koanf tag")
			}
			n.children[tag] = buildNode(f.Type)
		}
		return n
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.Struct:
		return &node{kind: kindMap, elem: buildNode(t.Elem()), typ: t}
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.Interface:
		return &node{kind: kindLeaf, leaf: leafObject, typ: t}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return &node{kind: kindLeaf, leaf: leafStrings, typ: t}
	case t.Kind() == reflect.String:
		return &node{kind: kindLeaf, leaf: leafString, typ: t}
	case t.Kind() == reflect.Bool:
		return &node{kind: kindLeaf, leaf: leafBool, typ: t}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return &node{kind: kindLeaf, leaf: leafInt, typ: t}
	case t.Kind() == reflect.Float64:
		return &node{kind: kindLeaf, leaf: leafFloat, typ: t}
	}
	panic("config: unsupported field type " + t.String())
}

// lookup returns the schema node of a dotted key, or nil. Entries of a map
// node (class names) match any name.
func lookup(key string) *node {
	n := schema()
	for _, part := range strings.Split(key, ".") {
		switch n.kind {
		case kindSection:
			n = n.children[part]
		case kindMap:
			n = n.elem
		default:
			return nil
		}
		if n == nil {
			return nil
		}
	}
	return n
}

// leafKeys lists the dotted keys of every leaf of c, map entries included,
// sorted; the opaque plugin config objects count as one leaf each.
func leafKeys(c Config) []string {
	flat := Flat(c)
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// toMap renders c as the nested map koanf holds, with canonical value types
// (the defaults layer of the loader).
func toMap(c Config) map[string]any {
	return valueToMap(reflect.ValueOf(c), schema()).(map[string]any)
}

func valueToMap(v reflect.Value, n *node) any {
	switch n.kind {
	case kindSection:
		out := make(map[string]any, len(n.children))
		t := v.Type()
		for i := range t.NumField() {
			tag := t.Field(i).Tag.Get("koanf")
			out[tag] = valueToMap(v.Field(i), n.children[tag])
		}
		return out
	case kindMap:
		out := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out[iter.Key().String()] = valueToMap(iter.Value(), n.elem)
		}
		return out
	}
	switch n.leaf {
	case leafStrings:
		s := v.Interface().([]string)
		return append([]string{}, s...)
	case leafObject:
		m, _ := v.Interface().(map[string]any)
		return deepCopyObject(m)
	case leafInt:
		return int(v.Int())
	case leafDuration:
		return time.Duration(v.Int())
	}
	return v.Interface()
}

// stringKeys converts a YAML mapping with arbitrary keys, and the mappings
// nested in it, to string keys.
func stringKeys(m map[any]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[fmt.Sprint(k)] = stringKeysValue(v)
	}
	return out
}

func stringKeysValue(v any) any {
	switch x := v.(type) {
	case map[any]any:
		return stringKeys(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = stringKeysValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = stringKeysValue(e)
		}
		return out
	}
	return v
}

func deepCopyObject(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		// Not JSON-representable: share it rather than fail; plugin config
		// from YAML or JSON always marshals.
		return m
	}
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	return out
}

// convert checks raw against the leaf kind and returns it in canonical form
// (string, bool, int, float64, time.Duration, []string, map[string]any).
// With fromText, a string is parsed as the environment and --set give it
// (comma-separated lists, JSON objects, numbers and durations as text).
func convert(raw any, n *node, fromText bool) (any, string) {
	if s, ok := raw.(string); ok && fromText && n.leaf != leafString {
		return convertText(s, n)
	}
	switch n.leaf {
	case leafString:
		if s, ok := raw.(string); ok {
			return s, ""
		}
	case leafBool:
		if b, ok := raw.(bool); ok {
			return b, ""
		}
	case leafInt:
		var i int64
		switch x := raw.(type) {
		case int:
			i = int64(x)
		case int64:
			i = x
		case uint64:
			if x > math.MaxInt64 {
				return nil, "integer out of range: " + describe(raw)
			}
			i = int64(x)
		case float64:
			if x != math.Trunc(x) || math.IsInf(x, 0) || math.IsNaN(x) {
				return nil, "want an integer, got " + describe(raw)
			}
			// 2^63 is the first float64 above MaxInt64.
			if x >= 0x1p63 || x < -0x1p63 {
				return nil, "integer out of range: " + describe(raw)
			}
			i = int64(x)
		default:
			return nil, "want an integer, got " + describe(raw)
		}
		if reflect.New(n.typ).Elem().OverflowInt(i) {
			return nil, "integer out of range: " + describe(raw)
		}
		return int(i), ""
	case leafFloat:
		if f, ok := number(raw); ok {
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, "want a finite number, got " + describe(raw)
			}
			return f, ""
		}
	case leafDuration:
		if d, ok := raw.(time.Duration); ok {
			return d, ""
		}
		if f, ok := number(raw); ok {
			return seconds(f, raw)
		}
		if s, ok := raw.(string); ok {
			return convertText(s, n)
		}
		return nil, "want a duration (seconds such as 0.1, or a string such as \"100ms\"), got " + describe(raw)
	case leafStrings:
		switch l := raw.(type) {
		case []string:
			return append([]string{}, l...), ""
		case []any:
			out := make([]string, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Sprintf("want a list of strings, item %d is %s", i, describe(e))
				}
				out[i] = s
			}
			return out, ""
		}
	case leafObject:
		switch raw.(type) {
		case map[string]any, map[any]any:
			// YAML allows non-string keys; JSON, which the plugin receives,
			// does not: they become strings.
			return deepCopyObject(stringKeysValue(raw).(map[string]any)), ""
		}
	}
	return nil, "want " + kindName(n.leaf) + ", got " + describe(raw)
}

func convertText(s string, n *node) (any, string) {
	t := strings.TrimSpace(s)
	switch n.leaf {
	case leafBool:
		b, err := strconv.ParseBool(t)
		if err != nil {
			return nil, fmt.Sprintf("want true or false, got %q", s)
		}
		return b, ""
	case leafInt:
		i, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return nil, fmt.Sprintf("want an integer, got %q", s)
		}
		if reflect.New(n.typ).Elem().OverflowInt(i) {
			return nil, fmt.Sprintf("integer out of range: %q", s)
		}
		return int(i), ""
	case leafFloat:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Sprintf("want a finite number, got %q", s)
		}
		return f, ""
	case leafDuration:
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			return seconds(f, s)
		}
		d, err := time.ParseDuration(t)
		if err != nil {
			return nil, fmt.Sprintf("want a duration (seconds such as 0.1, or a string such as \"100ms\"), got %q", s)
		}
		return d, ""
	case leafStrings:
		out := []string{}
		for _, part := range strings.Split(s, ",") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, p)
			}
		}
		return out, ""
	case leafObject:
		out := map[string]any{}
		if t == "" {
			return out, ""
		}
		if err := json.Unmarshal([]byte(t), &out); err != nil {
			return nil, fmt.Sprintf("want a JSON object, got %q", s)
		}
		return out, ""
	}
	return s, ""
}

func seconds(f float64, raw any) (any, string) {
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > float64(math.MaxInt64)/1e9 {
		return nil, "duration out of range: " + describe(raw)
	}
	return time.Duration(math.Round(f * 1e9)), ""
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	return 0, false
}

func kindName(k leafKind) string {
	switch k {
	case leafString:
		return "a string"
	case leafBool:
		return "true or false"
	case leafInt:
		return "an integer"
	case leafFloat:
		return "a number"
	case leafDuration:
		return "a duration"
	case leafStrings:
		return "a list of strings"
	case leafObject:
		return "a mapping (JSON object)"
	}
	return "a value"
}

// describe names a raw value's type and shows it, for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing (null)"
	case string:
		return fmt.Sprintf("string %q", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case int, int64, uint64:
		return fmt.Sprintf("integer %v", x)
	case float64, float32:
		return fmt.Sprintf("number %v", x)
	case []any, []string:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T %v", v, v)
}

// suggest returns the known key closest to an unknown one, if it is close
// enough to be a likely typo.
func suggest(key string) string {
	parent, last := "", key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		parent, last = key[:i], key[i+1:]
	}
	n := schema()
	if parent != "" {
		n = lookup(parent)
	}
	if n == nil || n.kind != kindSection {
		return ""
	}
	best, bestD := "", len(last)/2+2
	for k := range n.children {
		if d := editDistance(last, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return join(parent, best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Flat returns every setting of c by dotted key ("api.port": 8080), class
// entries included; durations are time.Duration, lists []string, plugin
// config objects map[string]any. It is what `cdp config show` prints.
func Flat(c Config) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, n *node, v any)
	walk = func(prefix string, n *node, v any) {
		switch n.kind {
		case kindLeaf:
			out[prefix] = v
		case kindSection:
			mv := v.(map[string]any)
			for k, child := range n.children {
				walk(join(prefix, k), child, mv[k])
			}
		case kindMap:
			for k, ev := range v.(map[string]any) {
				walk(join(prefix, k), n.elem, ev)
			}
		}
	}
	walk("", schema(), toMap(c))
	return out
}
