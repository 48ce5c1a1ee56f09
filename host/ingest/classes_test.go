package ingest

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestClasses(t *testing.T) {
	c := testClasses(t)
	if c.Len() != 3 || c.Name(0) != "default" || c.Name(1) != "aircraft" || c.Name(2) != "drone" || c.Name(3) != "" {
		t.Fatalf("order: %v %v %v", c.Name(0), c.Name(1), c.Name(2))
	}
	if s := c.Spec(0); s != DefaultClassSpec {
		t.Fatalf("default spec %+v", s)
	}
	if i, ok := c.Lookup([]byte("drone")); !ok || i != 2 || c.Spec(i).Horizontal != 30 {
		t.Fatal("lookup drone")
	}
	if _, ok := c.Lookup([]byte("ship")); ok {
		t.Fatal("lookup of an unknown class succeeded")
	}
	custom, err := NewClasses(map[string]ClassSpec{"default": {Horizontal: 100, Vertical: 50, Radius: 3}})
	if err != nil || custom.Spec(0).Horizontal != 100 || custom.Len() != 1 {
		t.Fatalf("custom default: %v %+v", err, custom.Spec(0))
	}
	var none *Classes
	if none.Len() != 1 || none.Name(0) != "default" || none.Spec(5) != DefaultClassSpec {
		t.Fatal("nil table")
	}
	if i, ok := none.Lookup([]byte("default")); !ok || i != 0 {
		t.Fatal("nil table lookup default")
	}
	if _, ok := none.Lookup([]byte("drone")); ok {
		t.Fatal("nil table knows drone")
	}
	n := testing.AllocsPerRun(100, func() { c.Lookup([]byte("aircraft")) })
	if n != 0 {
		t.Fatalf("Lookup allocates %v", n)
	}
}

func TestClassErrors(t *testing.T) {
	cases := []struct {
		m   map[string]ClassSpec
		key string
	}{
		{map[string]ClassSpec{"drone": {Horizontal: 0, Vertical: 10}}, "collision_detection.classes.drone.horizontal"},
		{map[string]ClassSpec{"drone": {Horizontal: 10, Vertical: -1}}, "collision_detection.classes.drone.vertical"},
		{map[string]ClassSpec{"drone": {Horizontal: 10, Vertical: 1, Radius: math.NaN()}}, "collision_detection.classes.drone.radius"},
		{map[string]ClassSpec{"default": {Horizontal: math.Inf(1), Vertical: 1}}, "collision_detection.classes.default.horizontal"},
		{map[string]ClassSpec{"": {Horizontal: 1, Vertical: 1}}, "collision_detection.classes."},
	}
	for _, c := range cases {
		_, err := NewClasses(c.m)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != c.key || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%v: %v, want an error naming %s", c.m, err, c.key)
		}
	}
}
