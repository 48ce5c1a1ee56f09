package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/collision-detection-platform/distributed-platform/plugins"
)

// State is where a plugin is in its life.
type State string

// Plugin states.
const (
	// StateStored: uploaded and validated, not in use.
	StateStored State = "stored"
	// StateShadow: scores a share of live batches beside the active model.
	StateShadow State = "shadow"
	// StateActive: the model of its kind; its answers make the risk events.
	StateActive State = "active"
	// StateRetired: was active, replaced by another or rolled back.
	StateRetired State = "retired"
	// StateBroken: rolled back automatically after its breaker opened; it
	// can be activated again only by an explicit request.
	StateBroken State = "broken"
)

// Actor names who asked for a change (until authentication lands, the
// client's address and request id).
type Actor struct {
	RequestID  string `json:"request_id,omitempty"`
	RemoteAddr string `json:"remote_addr,omitempty"`
	// By is the user, when known; "system" for automatic changes.
	By string `json:"by,omitempty"`
}

// Transition is one state change of a plugin.
type Transition struct {
	Time   time.Time `json:"time"`
	From   State     `json:"from,omitempty"`
	To     State     `json:"to"`
	Reason string    `json:"reason,omitempty"`
	Actor
}

// Ref names a model in the activation history; ID "" is the base model
// (builtin, or the one the configuration loaded at start).
type Ref struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Activation is one switch of the active model of a kind.
type Activation struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	From   Ref       `json:"from"`
	To     Ref       `json:"to"`
	Reason string    `json:"reason"` // "activate", "rollback", "automatic rollback: ..."
	Actor
}

// Counters are a plugin's cumulative statistics, over restarts.
type Counters struct {
	Batches  uint64 `json:"batches"`  // batches the plugin answered itself
	Pairs    uint64 `json:"pairs"`    // pairs it scored
	Vehicles uint64 `json:"vehicles"` // vehicles it predicted
	// Nanos is the wall time of its batches (scoring and prediction).
	Nanos uint64 `json:"nanos"`
	// Failures counts failed batches; FailuresByReason splits them.
	Failures         uint64                `json:"failures"`
	FailuresByReason plugins.FailureCounts `json:"failures_by_reason"`
	// Fallbacks counts batches another model answered (after a failure or
	// while the breaker was open).
	Fallbacks    uint64                  `json:"fallbacks"`
	LastFailures []plugins.FailureRecord `json:"last_failures,omitempty"`
}

func (c *Counters) add(d Counters) {
	c.Batches += d.Batches
	c.Pairs += d.Pairs
	c.Vehicles += d.Vehicles
	c.Nanos += d.Nanos
	c.Failures += d.Failures
	c.Fallbacks += d.Fallbacks
	f, g := &c.FailuresByReason, d.FailuresByReason
	f.Timeout += g.Timeout
	f.Trap += g.Trap
	f.Exit += g.Exit
	f.GuestError += g.GuestError
	f.Malformed += g.Malformed
	f.Instance += g.Instance
	if len(d.LastFailures) > 0 {
		c.LastFailures = append(c.LastFailures, d.LastFailures...)
		if n := len(c.LastFailures); n > 8 {
			c.LastFailures = c.LastFailures[n-8:]
		}
	}
}

// Record is what the registry keeps of one plugin.
type Record struct {
	// ID is the module's sha256, hex.
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Version     string          `json:"version"`
	Kind        string          `json:"kind"`
	Description string          `json:"description,omitempty"`
	ABIVersion  string          `json:"abi_version"`
	Config      json.RawMessage `json:"config"`
	Size        int             `json:"size"`
	State       State           `json:"state"`
	UploadedAt  time.Time       `json:"uploaded_at"`
	UploadedBy  Actor           `json:"uploaded_by"`
	// SignedBy is the id of the trusted key whose signature was verified at
	// upload; "" for an unsigned module.
	SignedBy string `json:"signed_by,omitempty"`
	// ConformanceNsPerPair is the time per pair measured at upload.
	ConformanceNsPerPair float64      `json:"conformance_ns_per_pair,omitempty"`
	Transitions          []Transition `json:"transitions"`
	// Counters are the totals of earlier runs; the live plugin's are added
	// when it is shown or unloaded.
	Counters Counters `json:"counters"`
	// Shadow is the last shadow comparison (kept after shadowing stops).
	Shadow *ShadowReport `json:"shadow,omitempty"`
}

// slot is the active model of one kind and the stack of the ones before it.
type slot struct {
	Active   string   `json:"active"`             // plugin id, "" for the base model
	Previous []string `json:"previous,omitempty"` // earlier active ids, newest last
	// Probation: the process stopped without a clean shutdown while Active
	// was active, so it is on trial (see Manager.probation): the engine uses
	// the model before it until the trial passes.
	Probation bool `json:"probation,omitempty"`
}

// registryFile is the layout of registry.json.
type registryFile struct {
	Format        int              `json:"format"` // 1
	Plugins       []*Record        `json:"plugins"`
	Slots         map[string]*slot `json:"slots"`
	Activations   []Activation     `json:"activations"`
	AutoRollbacks []AutoRollback   `json:"auto_rollbacks,omitempty"`
	// Running is true while a process has the registry open; a start that
	// finds it true knows the last process died without a clean stop.
	Running bool `json:"running,omitempty"`
}

const registryFormat = 1

// maxActivations bounds the history kept (oldest dropped first).
const maxActivations = 1000

// readRegistry loads dir/registry.json; a missing file is an empty registry.
func readRegistry(dir string) (*registryFile, error) {
	f := &registryFile{Format: registryFormat, Slots: map[string]*slot{}}
	if dir == "" {
		return f, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "registry.json"))
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("models: read registry: %w", err)
	}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("models: %s: %w", filepath.Join(dir, "registry.json"), err)
	}
	if f.Format != registryFormat {
		return nil, fmt.Errorf("models: %s: format %d, this build reads %d", filepath.Join(dir, "registry.json"), f.Format, registryFormat)
	}
	if f.Slots == nil {
		f.Slots = map[string]*slot{}
	}
	return f, nil
}

// writeFile stores the registry's files; a variable so that tests can make
// the disk fail.
var writeFile = writeFileAtomic

// storageMessage reports whether a load error's text is a disk failure
// (the conformance report carries the runtime's error as text).
func storageMessage(msg string) bool {
	for _, e := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS} {
		if strings.Contains(msg, e.Error()) {
			return true
		}
	}
	return false
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, synced and renamed over path, so that a crash leaves either the
// old or the new file, never a torn one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
