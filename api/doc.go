// Package api is cdp's REST adapter (Fiber v2): ingest of vehicle locations,
// queries of vehicles and risks, the live risk stream (Server-Sent Events),
// system status, health, Prometheus metrics and the OpenAPI document.
//
// The package sits at the edge: it declares the small interfaces it consumes
// (Engine, History, StateTransfer) and the host wires the engine and the
// stores behind them. Every answer is JSON; every error is
//
//	{"error": "what went wrong", "details": [...]}
//
// with details naming what is at fault (a record's index and field, a query
// parameter, a byte offset).
//
// Endpoints (see openapi.json, served at /openapi.json):
//
//	POST /api/v1/locations              ingest a batch (JSON array or NDJSON)
//	GET  /api/v1/vehicles/{id}          one vehicle's state
//	GET  /api/v1/vehicles               vehicles in a bounding box, paged
//	GET  /api/v1/risks                  open risks
//	GET  /api/v1/risks/{id}             one risk, open or from history
//	GET  /api/v1/risks/history          risk events in a time range
//	GET  /api/v1/risks/stream           live risk events (SSE)
//	GET  /system/status                 uptime, counts, rates, grid, models
//	GET  /system/version                build and ABI version
//	GET  /system/export-state           engine state snapshot
//	POST /system/import-state           restore a snapshot
//	GET  /healthz, /readyz, /metrics, /openapi.json
package api
