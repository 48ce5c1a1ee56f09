package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"strings"
	"unsafe"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Why unsafe? fasthttp reads a request's whole body before any handler
// runs, and its only hook between header and body, Server.HeaderReceived,
// receives the header alone. To refuse a large admin upload from a client
// outside api.admin.allow before its body is read, the hook needs the
// client address. fasthttp passes &ctx.Request.Header of the connection's
// RequestCtx (server.go, serveConn; the only caller), so the RequestCtx is
// found at a fixed offset from the header, and its RemoteIP is the
// connection's. TestImportRefusedBeforeBody fails if a fasthttp upgrade
// changes this.
var headerOffset = unsafe.Offsetof(fasthttp.RequestCtx{}.Request) + unsafe.Offsetof(fasthttp.Request{}.Header)

// remoteIPOfHeader returns the client address of the request whose header
// fasthttp handed to Server.HeaderReceived.
func remoteIPOfHeader(h *fasthttp.RequestHeader) (netip.Addr, bool) {
	ctx := (*fasthttp.RequestCtx)(unsafe.Add(unsafe.Pointer(h), -int(headerOffset)))
	ip, ok := netip.AddrFromSlice(ctx.RemoteIP())
	return ip.Unmap(), ok
}

// requestIDKey is the Locals key of the request id.
type requestIDKey struct{}

// requestID is the request's X-Request-ID (at most 128 bytes), or a new
// random one; it is echoed in the answer and stays the same for the
// request's audit entries.
func requestID(c *fiber.Ctx) string {
	if id, ok := c.Locals(requestIDKey{}).(string); ok {
		return id
	}
	id := c.Get(fiber.HeaderXRequestID)
	if id == "" || len(id) > 128 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	// Fiber's strings alias the request buffer (Immutable is off for
	// ingest): copy what outlives the request.
	id = strings.Clone(id)
	c.Set(fiber.HeaderXRequestID, id)
	c.Locals(requestIDKey{}, id)
	return id
}
