package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/collision-detection-platform/distributed-platform/host/models"
)

// adminRoutes registers the plugin management endpoints. Every one checks
// s.admin first (api.admin.enabled, api.admin.allow) and answers 501 when
// Options.Plugins is not set.
func (s *Server) adminRoutes() {
	g := s.app.Group("/admin/plugins")
	g.Post("", s.postPlugin)
	g.Get("", s.getPlugins)
	// Static paths before /:id, which would take them otherwise.
	g.Get("/history", s.getPluginHistory)
	g.Post("/rollback", s.postPluginRollback)
	g.Get("/:id", s.getPlugin)
	g.Delete("/:id", s.deletePlugin)
	g.Post("/:id/shadow", s.postPluginShadow)
	g.Post("/:id/activate", s.postPluginActivate)
}

// plugins returns the manager after the admin checks.
func (s *Server) plugins(c *fiber.Ctx) (*models.Manager, error) {
	if p := s.admin(c); p != nil {
		return nil, p
	}
	if s.opts.Plugins == nil {
		return nil, problem(fiber.StatusNotImplemented, "plugin management is not configured on this node")
	}
	return s.opts.Plugins, nil
}

// actor names the client of an admin request for the registry's records:
// its address, request id (X-Request-ID, or a new one, echoed back) and,
// with authentication on, the token's subject.
func actor(c *fiber.Ctx) models.Actor {
	a := models.Actor{RequestID: requestID(c), RemoteAddr: c.Context().RemoteAddr().String()}
	if p, ok := principalOf(c); ok {
		a.By = p.Subject
	}
	return a
}

// modelsProblem maps a manager error onto a Problem: 404 unknown id, 400 bad
// request or ambiguous prefix, 409 conflict, 413 module over the size limit,
// 422 module refused (with the cause and the failed vectors as details), 507
// disk full (500 another write failure), without local paths.
func modelsProblem(err error) error {
	if se, ok := models.IsStorage(err); ok {
		// The message names no local path (StorageError omits it); the
		// server's log has the full error.
		status := fiber.StatusInternalServerError
		if se.NoSpace() {
			status = fiber.StatusInsufficientStorage
		}
		return problem(status, strings.TrimPrefix(se.Error(), "models: ")+"; nothing was stored (the server log has the details)")
	}
	if re, ok := models.IsRefused(err); ok {
		status := fiber.StatusUnprocessableEntity
		if re.Cause == models.RefusedTooLarge {
			status = fiber.StatusRequestEntityTooLarge
		}
		details := []any{map[string]string{"cause": re.Cause, "reason": re.Message}}
		for _, v := range re.Vectors {
			details = append(details, v)
		}
		return problem(status, "module refused: "+re.Message, details...)
	}
	// "models: conflict: plugin x is active" reads "plugin x is active".
	msg := strings.TrimPrefix(err.Error(), "models: ")
	for _, p := range []string{"conflict: ", "bad request: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	switch {
	case errors.Is(err, models.ErrNotFound):
		return problem(fiber.StatusNotFound, msg)
	case errors.Is(err, models.ErrBadRequest), errors.Is(err, models.ErrAmbiguous):
		return problem(fiber.StatusBadRequest, msg)
	case errors.Is(err, models.ErrConflict):
		return problem(fiber.StatusConflict, msg)
	case errors.Is(err, models.ErrClosed):
		return problem(fiber.StatusServiceUnavailable, msg)
	}
	return err
}

// signatureHeader carries a module's detached signature on upload: the
// .sig file written by `cdp plugin sign`, base64.
const signatureHeader = "X-CDP-Signature"

// postPlugin uploads a module. The body is either multipart/form-data with
// the file in "module" and the fields kind, name, version, description and
// config, or the raw module (application/wasm) with those as query
// parameters. kind defaults to the manifest's; kind, name and version, when
// given, must be the manifest's; config is a JSON object passed to cdp_init. The module is
// validated before it is stored: 201 with the record, 200 when the same
// module and configuration are stored already, 413/422 with the reason.
//
//	POST /admin/plugins
func (s *Server) postPlugin(c *fiber.Ctx) error {
	mgr, err := s.plugins(c)
	if err != nil {
		return err
	}
	u := models.Upload{Actor: actor(c)}
	field := func(k string) string { return strings.Clone(c.Query(k)) }
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
		fh, err := c.FormFile("module")
		if err != nil {
			return badParam("module", "", "multipart upload without a \"module\" file part")
		}
		f, err := fh.Open()
		if err != nil {
			return problem(fiber.StatusBadRequest, "read module: "+err.Error())
		}
		u.Module, err = io.ReadAll(f)
		f.Close()
		if err != nil {
			return problem(fiber.StatusBadRequest, "read module: "+err.Error())
		}
		if sh, err := c.FormFile("signature"); err == nil {
			if sf, err := sh.Open(); err == nil {
				u.Signature, err = io.ReadAll(io.LimitReader(sf, 64<<10))
				sf.Close()
				if err != nil {
					return problem(fiber.StatusBadRequest, "read signature: "+err.Error())
				}
			}
		} else if v := c.FormValue("signature"); v != "" {
			u.Signature = []byte(strings.Clone(v))
		}
		field = func(k string) string {
			if v := c.FormValue(k); v != "" {
				return strings.Clone(v)
			}
			return strings.Clone(c.Query(k))
		}
	} else {
		u.Module = append([]byte(nil), c.Body()...)
	}
	if h := c.Get(signatureHeader); h != "" && u.Signature == nil {
		sig, err := base64.StdEncoding.DecodeString(h)
		if err != nil {
			return badParam(signatureHeader, "", "want the .sig file's content in base64")
		}
		u.Signature = sig
	}
	u.Kind = field("kind") // "": the manifest's
	u.Name, u.Version, u.Description = field("name"), field("version"), field("description")
	u.Config = json.RawMessage(field("config"))
	rec, created, err := mgr.Upload(c.UserContext(), u)
	if err != nil {
		if _, ok := models.IsStorage(err); ok {
			s.log.Error("api: plugin upload could not be stored", "err", err, "request_id", u.Actor.RequestID)
		}
		return modelsProblem(err)
	}
	if created {
		c.Status(fiber.StatusCreated)
	}
	c.Location("/admin/plugins/" + rec.ID)
	return c.JSON(rec)
}

// getPlugins lists the plugins, newest upload first, with their state,
// counters and metrics.
//
//	GET /admin/plugins
func (s *Server) getPlugins(c *fiber.Ctx) error {
	mgr, err := s.plugins(c)
	if err != nil {
		return err
	}
	return c.JSON(map[string]any{"plugins": mgr.List(), "status": mgr.Status()})
}

// getPlugin shows one plugin (sha256 or a unique prefix of at least 8 hex
// characters): versions, state and its transitions, failure counts with the
// last reasons, metrics, and the shadow comparison.
//
//	GET /admin/plugins/{id}
func (s *Server) getPlugin(c *fiber.Ctx) error {
	mgr, err := s.plugins(c)
	if err != nil {
		return err
	}
	in, err := mgr.Get(param(c))
	if err != nil {
		return modelsProblem(err)
	}
	return c.JSON(in)
}

// getPluginHistory answers the activation history, oldest first.
//
//	GET /admin/plugins/history
func (s *Server) getPluginHistory(c *fiber.Ctx) error {
	mgr, err := s.plugins(c)
	if err != nil {
		return err
	}
	return c.JSON(map[string]any{"activations": mgr.History()})
}

// postPluginShadow runs a scorer in shadow: body {"share": 0.1} (default
// plugins' shadow share, 0.1), or {"stop": true} to end it.
//
//	POST /admin/plugins/{id}/shadow
func (s *Server) postPluginShadow(c *fiber.Ctx) error {
	mgr, err := s.plugins(c)
	if err != nil {
		return err
	}
	var req models.ShadowRequest
	if b := c.Body(); len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &req); err != nil {
			return problem(fiber.StatusBadRequest, "body: want {\"share\": 0.1} or {\"stop\": true}: "+err.Error())
		}
	}
	req.Actor = actor(c)
	in, err := mgr.Shadow(c.UserContext(), param(c), req)
	if err != nil {
		return modelsProblem(err)
	}
	return c.JSON(in)
}

// postPluginActivate makes the plugin the active model of its kind from the
// engine's next tick, and answers the activations recorded (none when it
// was active already) and the plugin.
//
//	POST /admin/plugins/{id}/activate
func (s *Server) postPluginActivate(c *fiber.Ctx) error {
	mgr, err := s.plugins(c)
	if err != nil {
		return err
	}
	acts, err := mgr.Activate(c.UserContext(), param(c), actor(c))
	if err != nil {
		return modelsProblem(err)
	}
	in, err := mgr.Get(param(c))
	if err != nil {
		return modelsProblem(err)
	}
	if acts == nil {
		acts = []models.Activation{}
	}
	return c.JSON(map[string]any{"activations": acts, "plugin": in})
}

// postPluginRollback makes the previously active model of a kind active
// again: body {"kind": "scorer"} (the default) or {"kind": "predictor"}.
//
//	POST /admin/plugins/rollback
func (s *Server) postPluginRollback(c *fiber.Ctx) error {
	mgr, err := s.plugins(c)
	if err != nil {
		return err
	}
	var req struct {
		Kind string `json:"kind"`
	}
	if b := c.Body(); len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &req); err != nil {
			return problem(fiber.StatusBadRequest, "body: want {\"kind\": \"scorer\"}: "+err.Error())
		}
	}
	if req.Kind == "" {
		req.Kind = strings.Clone(c.Query("kind"))
	}
	act, err := mgr.Rollback(c.UserContext(), req.Kind, actor(c))
	if err != nil {
		return modelsProblem(err)
	}
	return c.JSON(map[string]any{"activation": act, "status": mgr.Status()})
}

// deletePlugin removes a plugin that is not active (409 for the active one).
//
//	DELETE /admin/plugins/{id}
func (s *Server) deletePlugin(c *fiber.Ctx) error {
	mgr, err := s.plugins(c)
	if err != nil {
		return err
	}
	if err := mgr.Delete(c.UserContext(), param(c), actor(c)); err != nil {
		return modelsProblem(err)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// param returns the plugin id of the path, copied out of the request buffer.
func param(c *fiber.Ctx) string { return strings.Clone(c.Params("id")) }
