package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/collision-detection-platform/distributed-platform/api/web"
	"github.com/collision-detection-platform/distributed-platform/host/security"
)

// dashboardCSP lets the page load only what cdp serves: no CDN, no tile
// server, no inline script. Styles may be inline (the chart library sets
// them).
const dashboardCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"

// dashboardRoutes serves the web dashboard (package web): the page at / and
// its files under /ui/.
func (s *Server) dashboardRoutes() error {
	assets, err := web.Load()
	if err != nil {
		return err
	}
	s.app.Get("/api/v1/me", s.getMe)
	s.app.Get("/", func(c *fiber.Ctx) error { return sendAsset(c, assets.Get("index.html")) })
	s.app.Get("/ui/:file", func(c *fiber.Ctx) error {
		a := assets.Get(c.Params("file"))
		if a == nil || a.Name == "index.html" {
			return problem(fiber.StatusNotFound, "no such dashboard file: "+strings.Clone(c.Params("file")))
		}
		return sendAsset(c, a)
	})
	return nil
}

// getMe tells a client what the server lets it do, so that the dashboard
// asks for a token when one is needed and shows the admin controls only to
// those whose admin calls would be taken (the server checks every call
// anyway). It is open: it answers, rather than refuses, a client without a
// valid token.
//
//	GET /api/v1/me
//
// 200 {"auth": bool, "read": bool, "admin": bool, "subject": "...",
// "roles": "read+admin", "reason": "why not admin"}. auth: the server
// needs a bearer token; read: this client may read (vehicles, risks,
// status); admin: its admin calls pass both the token's role and
// api.admin.enabled / api.admin.allow.
func (s *Server) getMe(c *fiber.Ctx) error {
	out := struct {
		Auth    bool   `json:"auth"`
		Read    bool   `json:"read"`
		Admin   bool   `json:"admin"`
		Subject string `json:"subject,omitempty"`
		Roles   string `json:"roles,omitempty"`
		Reason  string `json:"reason,omitempty"`
	}{Auth: s.opts.Auth != nil, Read: true}
	if s.opts.Auth != nil {
		p, err := s.opts.Auth.Authenticate(c.Get(fiber.HeaderAuthorization))
		if err != nil {
			out.Read, out.Reason = false, "token: "+err.Error()
			return c.JSON(out)
		}
		out.Subject, out.Roles, out.Read = p.Subject, p.Roles.String(), p.Can(security.RoleRead)
		if !p.Can(security.RoleAdmin) {
			out.Reason = "the token's roles (" + out.Roles + ") do not include admin"
			return c.JSON(out)
		}
	}
	if p := s.admin(c); p != nil {
		out.Reason = p.Message
		return c.JSON(out)
	}
	out.Admin = true
	return c.JSON(out)
}

// sendAsset answers an embedded file with its ETag (304 when the client has
// it), gzip-compressed when the client accepts it. The files are
// revalidated on every load (no-cache), so a new cdp version is picked up
// at once.
func sendAsset(c *fiber.Ctx, a *web.Asset) error {
	c.Set(fiber.HeaderContentType, a.ContentType)
	c.Set(fiber.HeaderETag, a.ETag)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentSecurityPolicy, dashboardCSP)
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && strings.Contains(inm, a.ETag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	if strings.Contains(c.Get(fiber.HeaderAcceptEncoding), "gzip") {
		if gz := a.Gzip(); gz != nil {
			c.Set(fiber.HeaderContentEncoding, "gzip")
			return c.Send(gz)
		}
	}
	return c.Send(a.Body)
}
