package api

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/collision-detection-platform/distributed-platform/host/audit"
	"github.com/collision-detection-platform/distributed-platform/host/security"
)

// Authenticator verifies the Authorization header of a request
// (*security.Authenticator implements it).
type Authenticator interface {
	// Authenticate returns the caller, or a *security.AuthError.
	Authenticate(header string) (security.Principal, error)
}

// Auditor records security-relevant events (*audit.Log implements it).
type Auditor interface {
	// Record chains and stores e; it never fails the caller.
	Record(e audit.Entry)
	// Query returns the entries matching f, oldest first.
	Query(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

// open is the policy of routes anyone may call.
const open security.Role = 0

// routePolicy is the one table that decides who may call what when
// authentication is on: every registered route has exactly one row (a test
// walks the routes), and a request that matches no row needs the admin
// role, so a route added without a row fails closed. HEAD follows GET.
// Health checks stay open (probes carry no token); the OpenAPI document is
// open (it is the same for every deployment and says how to authenticate).
var routePolicy = []struct {
	method, path string
	need         security.Role
}{
	{fiber.MethodGet, "/healthz", open},
	{fiber.MethodGet, "/readyz", open},
	{fiber.MethodGet, "/openapi.json", open},
	// The dashboard's page and files hold no data (a browser cannot send a
	// token when it opens a page); /api/v1/me answers what a token allows.
	{fiber.MethodGet, "/", open},
	{fiber.MethodGet, "/ui/:file", open},
	{fiber.MethodGet, "/api/v1/me", open},
	{fiber.MethodGet, "/metrics", security.RoleRead}, // open with Options.PublicMetrics

	{fiber.MethodPost, "/api/v1/locations", security.RoleIngest},
	{fiber.MethodGet, "/api/v1/vehicles", security.RoleRead},
	{fiber.MethodGet, "/api/v1/map", security.RoleRead},
	{fiber.MethodGet, "/api/v1/vehicles/:id", security.RoleRead},
	{fiber.MethodGet, "/api/v1/vehicles/:id/track", security.RoleRead},
	{fiber.MethodGet, "/api/v1/risks", security.RoleRead},
	{fiber.MethodGet, "/api/v1/risks/history", security.RoleRead},
	{fiber.MethodGet, "/api/v1/risks/stream", security.RoleRead},
	{fiber.MethodGet, "/api/v1/risks/:id", security.RoleRead},

	{fiber.MethodGet, "/system/status", security.RoleRead},
	{fiber.MethodGet, "/system/version", security.RoleRead},
	{fiber.MethodGet, "/system/export-state", security.RoleAdmin},
	{fiber.MethodPost, importPath, security.RoleAdmin},
	{fiber.MethodGet, "/system/audit", security.RoleAdmin},

	{fiber.MethodPost, "/admin/plugins", security.RoleAdmin},
	{fiber.MethodGet, "/admin/plugins", security.RoleAdmin},
	{fiber.MethodGet, "/admin/plugins/history", security.RoleAdmin},
	{fiber.MethodPost, "/admin/plugins/rollback", security.RoleAdmin},
	{fiber.MethodGet, "/admin/plugins/:id", security.RoleAdmin},
	{fiber.MethodDelete, "/admin/plugins/:id", security.RoleAdmin},
	{fiber.MethodPost, "/admin/plugins/:id/shadow", security.RoleAdmin},
	{fiber.MethodPost, "/admin/plugins/:id/activate", security.RoleAdmin},
}

// policies is routePolicy compiled for the request path: static paths by
// method and detection path (lower case, no trailing slash), with the
// strictest role of every row that matches them; the rows with parameters
// are tried in order otherwise.
type policies struct {
	static map[string]security.Role // "GET /api/v1/risks"
	params []policyRow
	cfg    fiber.Config
}

type policyRow struct {
	method, path string
	need         security.Role
}

// stricter combines two rows that both match a path: the one that needs
// more, and admin when they need different non-admin roles.
func stricter(a, b security.Role) security.Role {
	switch {
	case a == b || b == open:
		return a
	case a == open:
		return b
	}
	return security.RoleAdmin
}

func compilePolicies(cfg fiber.Config, publicMetrics bool) *policies {
	p := &policies{static: map[string]security.Role{}, cfg: cfg}
	rows := make([]policyRow, 0, len(routePolicy))
	for _, r := range routePolicy {
		need := r.need
		if r.path == "/metrics" && publicMetrics {
			need = open
		}
		rows = append(rows, policyRow{r.method, r.path, need})
	}
	for _, r := range rows {
		if strings.ContainsAny(r.path, ":*+") {
			p.params = append(p.params, r)
			continue
		}
		need := r.need
		for _, o := range rows {
			if o.method == r.method && fiber.RoutePatternMatch(r.path, o.path, cfg) {
				need = stricter(need, o.need)
			}
		}
		p.static[r.method+" "+strings.ToLower(r.path)] = need
	}
	return p
}

// need is the role a request needs: the table's row for its method and
// path, or admin when no row matches (fail closed).
func (p *policies) need(method, path string) security.Role {
	if method == fiber.MethodHead {
		method = fiber.MethodGet
	}
	det := strings.ToLower(path)
	if len(det) > 1 {
		det = strings.TrimRight(det, "/")
		if det == "" {
			det = "/"
		}
	}
	if r, ok := p.static[method+" "+det]; ok {
		return r
	}
	need, found := open, false
	for _, r := range p.params {
		if r.method == method && fiber.RoutePatternMatch(det, r.path, p.cfg) {
			need, found = stricter(need, r.need), true
		}
	}
	if !found {
		return security.RoleAdmin
	}
	return need
}

// principalKey is the Locals key of the authenticated caller.
type principalKey struct{}

// principalOf returns the caller authenticated for this request (ok false
// when authentication is off or the route is open).
func principalOf(c *fiber.Ctx) (security.Principal, bool) {
	p, ok := c.Locals(principalKey{}).(security.Principal)
	return p, ok
}

// guard is the middleware that enforces routePolicy when Options.Auth is
// set (401 with WWW-Authenticate for a missing or refused token, 403 for a
// token without the role) and audits every refusal and every call of an
// admin route with its outcome, with or without authentication.
func (s *Server) guard(c *fiber.Ctx) error {
	if p := s.crossSite(c); p != nil {
		return p
	}
	need := s.policy.need(c.Method(), c.Path())
	if s.opts.Auth != nil && need != open {
		if err := s.authenticate(c, need); err != nil {
			return err
		}
	}
	err := c.Next()
	if need == security.RoleAdmin && s.opts.Audit != nil {
		status := statusOf(c, err)
		e := audit.Entry{Action: c.Method() + " " + c.Route().Path, Status: status, Outcome: audit.OutcomeOK,
			Detail: map[string]string{"path": c.Path()}}
		switch {
		case status == fiber.StatusUnauthorized || status == fiber.StatusForbidden:
			e.Outcome = audit.OutcomeDenied
		case status >= 400:
			e.Outcome = audit.OutcomeFailed
		}
		if e.Outcome != audit.OutcomeOK {
			var p *Problem
			if errors.As(err, &p) {
				e.Reason = p.Message
			}
		}
		s.audit(c, e)
	}
	return err
}

// crossSite refuses a state-changing request (any method but GET, HEAD and
// OPTIONS) that a browser sent from another site: its Origin is neither
// this server nor one of api.cors_origins, or, without an Origin,
// Sec-Fetch-Site says cross-site. Browsers send such requests without a
// preflight (forms, no-cors fetch), so CORS alone does not stop them; a
// client that is not a browser sends neither header and is not affected.
func (s *Server) crossSite(c *fiber.Ctx) *Problem {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return nil
	}
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		if c.Get("Sec-Fetch-Site") != "cross-site" {
			return nil
		}
	} else {
		if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, string(c.Request().Host())) {
			return nil // same origin
		}
		for _, o := range s.opts.CORSOrigins {
			if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
				return nil
			}
		}
	}
	s.metrics.authFailure("origin")
	s.audit(c, audit.Entry{Action: "auth", Outcome: audit.OutcomeDenied, Status: fiber.StatusForbidden, Reason: "origin",
		Detail: map[string]string{"route": c.Method() + " " + c.Path(), "origin": strings.Clone(origin)}})
	return problem(fiber.StatusForbidden, "cross-site request refused: origin "+strconv.Quote(origin)+" is not this server or one of api.cors_origins",
		map[string]string{"reason": "origin"})
}

// authenticate checks the token of a request that needs role need.
func (s *Server) authenticate(c *fiber.Ctx, need security.Role) error {
	p, err := s.opts.Auth.Authenticate(c.Get(fiber.HeaderAuthorization))
	if err != nil {
		ae, ok := security.IsAuthError(err)
		code, detail := "malformed", err.Error()
		if ok {
			code, detail = ae.Code(), ae.Error()
		}
		status := fiber.StatusUnauthorized
		if code == "no_role" {
			status = fiber.StatusForbidden
		}
		s.metrics.authFailure(code)
		s.audit(c, audit.Entry{Action: "auth", Subject: p.Subject, Outcome: audit.OutcomeDenied, Status: status, Reason: code,
			Detail: map[string]string{"route": c.Method() + " " + c.Path(), "error": detail}})
		if status == fiber.StatusUnauthorized {
			if code == "no_token" {
				c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="cdp"`)
			} else {
				desc := strings.NewReplacer(`"`, "'", "\\", "/").Replace(detail)
				c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="cdp", error="invalid_token", error_description="`+desc+`"`)
			}
			return problem(status, "authentication required: "+detail, map[string]string{"reason": code})
		}
		return problem(status, "forbidden: "+detail, map[string]string{"reason": code})
	}
	if !p.Can(need) {
		s.metrics.authFailure("role")
		s.audit(c, audit.Entry{Action: "auth", Subject: p.Subject, Outcome: audit.OutcomeDenied, Status: fiber.StatusForbidden, Reason: "role",
			Detail: map[string]string{"route": c.Method() + " " + c.Path(), "need": need.String(), "have": p.Roles.String()}})
		return problem(fiber.StatusForbidden, "forbidden: this call needs the "+need.String()+" role; the token has "+p.Roles.String(),
			map[string]string{"reason": "role", "need": need.String()})
	}
	c.Locals(principalKey{}, p)
	return nil
}

// audit records e with the request's address and request id.
func (s *Server) audit(c *fiber.Ctx, e audit.Entry) {
	if s.opts.Audit == nil {
		return
	}
	if e.Address == "" {
		e.Address = c.Context().RemoteAddr().String()
	}
	if e.RequestID == "" {
		e.RequestID = requestID(c)
	}
	if e.Subject == "" {
		if p, ok := principalOf(c); ok {
			e.Subject = p.Subject
		} else if cs := c.Context().TLSConnectionState(); cs != nil && len(cs.PeerCertificates) > 0 {
			// Mutual TLS without a token: the client certificate names the
			// caller.
			e.Subject = "cert:" + cs.PeerCertificates[0].Subject.CommonName
		}
	}
	s.opts.Audit.Record(e)
}

// importAllowed decides, from the request header alone, whether POST
// /system/import-state may send a body above BodyLimit: the admin API is on,
// the client address is in api.admin.allow and, with authentication on, the
// token is an admin's. fasthttp reads the whole body before any handler
// runs, so this is the only place a refusal can come before the body.
func (s *Server) importAllowed(h *fasthttp.RequestHeader) bool {
	if !s.opts.AdminEnabled {
		return false
	}
	ip, ok := remoteIPOfHeader(h)
	if !ok || !s.adminAllowed(ip) {
		return false
	}
	if s.opts.Auth != nil {
		p, err := s.opts.Auth.Authenticate(string(h.Peek(fiber.HeaderAuthorization)))
		if err != nil || !p.Can(security.RoleAdmin) {
			return false
		}
	}
	return true
}

// adminAllowed reports whether ip is in api.admin.allow.
func (s *Server) adminAllowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range s.adminAllow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// getAudit answers audit entries, oldest first: query parameters from and
// to (RFC 3339), action, subject, outcome (ok, denied, failed) and limit
// (default 100, at most 1000; the newest matching entries are kept).
// Admin only; 501 when no audit log is configured or it cannot be queried
// (it goes to the process log when there is no data directory).
//
//	GET /system/audit
func (s *Server) getAudit(c *fiber.Ctx) error {
	if p := s.admin(c); p != nil {
		return p
	}
	if s.opts.Audit == nil {
		return problem(fiber.StatusNotImplemented, "no audit log is configured on this node")
	}
	f := audit.Filter{Action: strings.Clone(c.Query("action")), Subject: strings.Clone(c.Query("subject")),
		Outcome: strings.Clone(c.Query("outcome")), Limit: 100}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := c.Query(t.name); v != "" {
			tm, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return badParam(t.name, v, "want an RFC 3339 time such as 2026-01-02T15:04:05Z")
			}
			*t.dst = tm
		}
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badParam("limit", v, "want an integer in [1, 1000]")
		}
		f.Limit = n
	}
	switch f.Outcome {
	case "", audit.OutcomeOK, audit.OutcomeDenied, audit.OutcomeFailed:
	default:
		return badParam("outcome", f.Outcome, "want ok, denied or failed")
	}
	es, err := s.opts.Audit.Query(c.UserContext(), f)
	if errors.Is(err, audit.ErrNoQuery) {
		return problem(fiber.StatusNotImplemented, err.Error())
	}
	if err != nil {
		return problem(fiber.StatusInternalServerError, "audit query failed: "+err.Error())
	}
	if es == nil {
		es = []audit.Entry{}
	}
	return c.JSON(map[string]any{"entries": es})
}
