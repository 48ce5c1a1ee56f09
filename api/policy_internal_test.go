package api

import (
	"testing"

	"github.com/gofiber/fiber/v2"
)

// Every route the server registers has exactly one row in routePolicy, and
// every row names a registered route: a new route without a decided role
// fails here (and, at run time, needs the admin role).
func TestEveryRouteHasOnePolicy(t *testing.T) {
	s := newTestServer(t, &nopEngine{})
	rows := map[string]int{}
	for _, r := range routePolicy {
		rows[r.method+" "+r.path]++
	}
	routes := map[string]bool{}
	for _, r := range s.App().GetRoutes(true) {
		if r.Method == fiber.MethodHead {
			continue
		}
		key := r.Method + " " + r.Path
		routes[key] = true
		if rows[key] != 1 {
			t.Errorf("route %s has %d rows in routePolicy (api/auth.go), want 1: decide who may call it", key, rows[key])
		}
	}
	for key := range rows {
		if !routes[key] {
			t.Errorf("routePolicy row %s names no registered route", key)
		}
	}
}
