package ingest

import (
	"fmt"
	"math"
	"sort"
)

// DefaultClass is the name of class index 0, used by records without "class".
const DefaultClass = "default"

// ClassSpec is one vehicle class of collision_detection.classes: the
// protected zone (half-widths) and the default hard-body radius.
type ClassSpec struct {
	// Horizontal is the protected zone's horizontal radius, m. Default (for
	// "default") 50.
	Horizontal float64
	// Vertical is the protected zone's vertical half-height, m. Default (for
	// "default") 25.
	Vertical float64
	// Radius is the hard-body radius of records that give none, m. Default 0.
	Radius float64
}

// DefaultClassSpec is the spec of "default" when the configuration omits it.
var DefaultClassSpec = ClassSpec{Horizontal: 50, Vertical: 25}

// Classes is the vehicle class table: index 0 is "default", the others follow
// in name order, so indexes are stable for a given configuration. It is
// immutable and safe for concurrent use. A nil *Classes is the table holding
// only "default" with DefaultClassSpec.
type Classes struct {
	names []string
	specs []ClassSpec
	index map[string]uint32
}

// NewClasses builds the table from configuration. Every class needs a
// positive, finite Horizontal and Vertical and a non-negative, finite Radius;
// errors are *ConfigError naming the key
// (collision_detection.classes.<name>.<field>).
func NewClasses(m map[string]ClassSpec) (*Classes, error) {
	c := &Classes{index: make(map[string]uint32, len(m)+1)}
	def, ok := m[DefaultClass]
	if !ok {
		def = DefaultClassSpec
	}
	names := make([]string, 0, len(m))
	for name := range m {
		if name != DefaultClass {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	names = append([]string{DefaultClass}, names...)
	for i, name := range names {
		spec := def
		if i > 0 {
			spec = m[name]
		}
		key := "collision_detection.classes." + name
		if name == "" || len(name) > 64 {
			return nil, &ConfigError{Key: key, Msg: "class name must be 1 to 64 bytes"}
		}
		check := func(field string, v float64, positive bool) error {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || (positive && v == 0) {
				want := "non-negative"
				if positive {
					want = "positive"
				}
				return &ConfigError{Key: key + "." + field, Msg: fmt.Sprintf("must be %s and finite, got %v", want, v)}
			}
			return nil
		}
		if err := check("horizontal", spec.Horizontal, true); err != nil {
			return nil, err
		}
		if err := check("vertical", spec.Vertical, true); err != nil {
			return nil, err
		}
		if err := check("radius", spec.Radius, false); err != nil {
			return nil, err
		}
		c.index[name] = uint32(i)
		c.names = append(c.names, name)
		c.specs = append(c.specs, spec)
	}
	return c, nil
}

// Len returns the number of classes (at least 1).
func (c *Classes) Len() int {
	if c == nil {
		return 1
	}
	return len(c.names)
}

// Lookup returns the index of the named class. It does not allocate.
func (c *Classes) Lookup(name []byte) (uint32, bool) {
	if c == nil {
		return 0, string(name) == DefaultClass
	}
	i, ok := c.index[string(name)]
	return i, ok
}

// Name returns the name of class i ("" when out of range).
func (c *Classes) Name(i uint32) string {
	if c == nil {
		if i == 0 {
			return DefaultClass
		}
		return ""
	}
	if int(i) >= len(c.names) {
		return ""
	}
	return c.names[i]
}

// Spec returns the spec of class i (the default class's when out of range).
func (c *Classes) Spec(i uint32) ClassSpec {
	if c == nil {
		return DefaultClassSpec
	}
	if int(i) >= len(c.specs) {
		return c.specs[0]
	}
	return c.specs[i]
}
