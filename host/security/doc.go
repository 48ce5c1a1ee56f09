// Package security holds the pieces of cdp that decide who may do what and
// keep what cdp writes safe: bearer-token authentication (JWT with roles),
// the HTTPS certificate loader with reload, Ed25519 plugin signatures and
// encryption at rest.
//
// Every constructor validates everything it is given and fails with an error
// naming what is wrong: a security setting is either in force or cdp does not
// start. Nothing here reads configuration by itself; the host passes values
// taken from host/config.
package security
