package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/collision-detection-platform/distributed-platform/api/web"
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
// shows the admin controls only to those whose admin calls would be taken
// (the server checks every admin call anyway).
//
//	GET /api/v1/me
//
// 200 {"admin": true} or {"admin": false, "reason": "..."}.
func (s *Server) getMe(c *fiber.Ctx) error {
	out := struct {
		Admin  bool   `json:"admin"`
		Reason string `json:"reason,omitempty"`
	}{Admin: true}
	if p := s.admin(c); p != nil {
		out.Admin, out.Reason = false, p.Message
	}
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
