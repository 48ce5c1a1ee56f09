package api

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPI is the OpenAPI 3 description of every route, written by hand; a
// test checks that each registered route appears in it.
//
//go:embed openapi.json
var openAPI []byte

// getOpenAPI serves the OpenAPI document.
//
//	GET /openapi.json
func (s *Server) getOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(openAPI)
}
