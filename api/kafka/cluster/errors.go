package cluster

import "errors"

// ErrWire is wrapped by every error decoding a routed message.
var ErrWire = errors.New("cluster: malformed routed message")

// ErrOptions is wrapped when a required option is missing.
var ErrOptions = errors.New("cluster: missing option")

// ErrLayout is returned when a routed message was written with another tile
// layout than this node's (the header cdp-layout differs).
var ErrLayout = errors.New("cluster: tile layout differs from this node's")
