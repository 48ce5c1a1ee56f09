package api

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"
)

// Sentinel errors.
var (
	// ErrNoEngine: Options.Engine is nil.
	ErrNoEngine = errors.New("api: Options.Engine is required")
)

// Problem is the body of every error answer:
//
//	{"error": "what went wrong", "details": [...]}
//
// It is also an error, so handlers can return it and the error handler
// writes it with its Status.
type Problem struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	// Details name what is at fault: objects such as {"param": "bbox",
	// "reason": "..."} or {"index": 3, "field": "lat", "reason": "..."}.
	Details []any `json:"details,omitempty"`
	// RetryAfter, when > 0, is sent as the Retry-After header, seconds.
	RetryAfter int `json:"-"`
}

// Error implements error.
func (p *Problem) Error() string { return "api: " + p.Message }

// problem builds a Problem.
func problem(status int, msg string, details ...any) *Problem {
	return &Problem{Status: status, Message: msg, Details: details}
}

// paramDetail names a query or path parameter at fault.
type paramDetail struct {
	Param  string `json:"param"`
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"`
}

// badParam is a 400 naming the parameter.
func badParam(param, value, reason string) *Problem {
	return problem(fiber.StatusBadRequest, "invalid "+param+": "+reason,
		paramDetail{Param: param, Value: value, Reason: reason})
}

// errorHandler writes every error as a Problem body. Fiber's own errors
// (404 for an unknown route, 405, 413 for a body above the limit, 408) are
// translated with their status.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var p *Problem
	if !errors.As(err, &p) {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			msg := fe.Message
			switch fe.Code {
			case fiber.StatusRequestEntityTooLarge:
				msg = "request body above the size limit (api.max_body_bytes)"
			case fiber.StatusNotFound:
				msg = "no such endpoint: " + c.Method() + " " + c.Path()
			}
			p = problem(fe.Code, msg)
		} else {
			s.log.Error("api: request failed", "method", c.Method(), "path", c.Path(), "err", err)
			p = problem(fiber.StatusInternalServerError, "internal error")
		}
	}
	if p.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(p.RetryAfter))
	}
	c.Status(p.Status)
	return c.JSON(p)
}
