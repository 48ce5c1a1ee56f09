package cli

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/collision-detection-platform/distributed-platform/host/security"
	"github.com/collision-detection-platform/distributed-platform/plugins"
)

// newPluginCmd: cdp plugin test FILE.wasm (and, with the admin API, the
// commands that manage a server's plugins).
func newPluginCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Check and manage Wasm prediction and scoring models",
		Long: `Work with WebAssembly models (ABI v1, see abi/SPEC.md).

'cdp plugin test FILE.wasm' checks a module offline: the exports and ABI
version it declares, its manifest, and its answers on the conformance vectors
(abi/testdata) against the builtin models. A model that declares itself
different from the builtin is checked for well-formed output instead:
ranges, counts, finiteness and determinism.`,
		Example: `  make plugins    # builds the examples into bin/plugins/
  cdp plugin test bin/plugins/c-cpa.wasm
  cdp plugin test --json my-scorer.wasm
  cdp plugin upload bin/plugins/turn-predictor.wasm
  cdp plugin shadow --share 0.2 3f2a9c1d
  cdp plugin activate 3f2a9c1d
  cdp plugin rollback`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	ac := &adminClient{lookupEnv: a.opts.LookupEnv}
	cmd.PersistentFlags().StringVar(&ac.server, "server", "http://localhost:8080",
		"base URL of the cdp server whose plugins to manage (its admin API must be enabled: api.admin.enabled)")
	cmd.PersistentFlags().StringVar(&ac.tokenFile, "token-file", "",
		"`file` holding a bearer token with the admin role, for a server with security.jwt.enabled (default: $CDP_TOKEN)")
	cmd.AddCommand(newPluginSignCmd(), newPluginKeygenCmd(), newPluginTestCmd(a), newPluginUploadCmd(ac), newPluginListCmd(ac), newPluginShowCmd(ac),
		newPluginShadowCmd(ac), newPluginActivateCmd(ac), newPluginRollbackCmd(ac), newPluginDeleteCmd(ac))
	return cmd
}

func newPluginTestCmd(_ *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "test FILE.wasm",
		Short: "Run a Wasm module against the conformance vectors",
		Long: `Load the module in the sandbox the server uses, report the exports and ABI
version found, then run every conformance vector: pass or fail with the first
differing field, and the time per scored pair. Exits 1 when the module fails.`,
		Example: `  cdp plugin test bin/plugins/c-cpa.wasm`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			module, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			rep := plugins.Conformance(cmd.Context(), module)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.WriteText(out)
			}
			if !rep.Pass {
				return fmt.Errorf("plugin test: %s does not conform", args[0])
			}
			return nil
		},
	}
	boolSwitch(cmd.Flags(), &asJSON, "json", "", "print the report as JSON")
	return cmd
}

// adminClient talks to a server's /admin/plugins endpoints.
type adminClient struct {
	server    string
	tokenFile string
	lookupEnv func(string) (string, bool)
	// header is sent with the next call (the upload's signature).
	header http.Header
}

// token is the bearer token of --token-file, else $CDP_TOKEN, else "".
func (c *adminClient) token() (string, error) {
	if c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if c.lookupEnv != nil {
		if v, ok := c.lookupEnv("CDP_TOKEN"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", nil
}

// problemError is an error answer of the server.
type problemError struct {
	Status  int
	Message string            `json:"error"`
	Details []json.RawMessage `json:"details"`
}

func (e *problemError) Error() string {
	s := fmt.Sprintf("server answered %d: %s", e.Status, e.Message)
	for _, d := range e.Details {
		var v struct {
			Cause, Reason, Vector, Op, Detail string
		}
		switch {
		case json.Unmarshal(d, &v) != nil:
			s += "\n  " + string(d)
		case v.Cause != "":
			s += "\n  cause: " + v.Cause
		case v.Vector != "":
			s += fmt.Sprintf("\n  vector %s (%s): %s", v.Vector, v.Op, v.Detail)
		default:
			s += "\n  " + string(d)
		}
	}
	return s
}

// call sends one request and decodes a 2xx JSON answer into out.
func (c *adminClient) call(cmd *cobra.Command, method, path, ctype string, body []byte, out any) error {
	base := strings.TrimRight(c.server, "/")
	if _, err := url.ParseRequestURI(base); err != nil || !strings.HasPrefix(base, "http") {
		return usagef(cmd, "--server %q: want a URL such as http://localhost:8080", c.server)
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	tok, err := c.token()
	if err != nil {
		return err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	// Uploads run the conformance vectors before the server answers.
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("plugin: %w (is the server running? --server %s)", err, c.server)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		p := &problemError{Status: resp.StatusCode}
		if json.Unmarshal(b, p) != nil || p.Message == "" {
			p.Message = strings.TrimSpace(string(b))
		}
		return p
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

// pluginView is the part of the server's plugin record the commands print.
type pluginView struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Version  string    `json:"version"`
	Kind     string    `json:"kind"`
	State    string    `json:"state"`
	Uploaded time.Time `json:"uploaded_at"`
	Metrics  struct {
		NsPerPair float64 `json:"ns_per_pair"`
	} `json:"metrics"`
	Counters struct {
		Pairs    uint64 `json:"pairs"`
		Failures uint64 `json:"failures"`
	} `json:"counters"`
}

type refView struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

func (r refView) String() string {
	if r.ID == "" {
		return r.Name + " " + r.Version + " (base model)"
	}
	return fmt.Sprintf("%s %s (%s)", r.Name, r.Version, short(r.ID))
}

type activationView struct {
	Kind   string  `json:"kind"`
	From   refView `json:"from"`
	To     refView `json:"to"`
	Reason string  `json:"reason"`
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newPluginUploadCmd(c *adminClient) *cobra.Command {
	var kind, name, version, desc, cfg, signature string
	cmd := &cobra.Command{
		Use:   "upload FILE.wasm",
		Short: "Upload a Wasm model to a running server",
		Long: `Send the module to the server's registry. The server validates it as
'cdp plugin test' does and as a load with its limits does (size, compile,
exports, ABI version, init within its time budget, conformance vectors) and
stores it by sha256; a refusal says exactly why. The plugin is stored, not
active: try it with 'cdp plugin shadow', then 'cdp plugin activate'.

The kind (scorer, predictor or predictor+scorer) is the one the module's
manifest declares; --kind stores a predictor+scorer module as one of the two.

The module's signature ('cdp plugin sign') is sent along: --signature, or
FILE.wasm.sig when it exists. A server with plugins.require_signature
refuses a module without a valid one.`,
		Example: `  cdp plugin upload bin/plugins/c-cpa.wasm
  cdp plugin upload --kind predictor bin/plugins/as-cpa.wasm
  cdp plugin upload --kind scorer --config '{"gain": 2}' my-scorer.wasm
  cdp plugin upload --kind scorer --config @scorer.json --server http://cdp:8080 my-scorer.wasm`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			module, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if strings.HasPrefix(cfg, "@") {
				b, err := os.ReadFile(cfg[1:])
				if err != nil {
					return fmt.Errorf("--config: %w", err)
				}
				cfg = string(b)
			}
			if cfg != "" && !json.Valid([]byte(cfg)) {
				return usagef(cmd, "--config: not valid JSON")
			}
			q := url.Values{}
			for k, v := range map[string]string{"kind": kind, "name": name, "version": version, "description": desc, "config": cfg} {
				if v != "" {
					q.Set(k, v)
				}
			}
			sigFile := signature
			if sigFile == "" {
				if _, err := os.Stat(args[0] + ".sig"); err == nil {
					sigFile = args[0] + ".sig"
				}
			}
			if sigFile != "" {
				sig, err := os.ReadFile(sigFile)
				if err != nil {
					return fmt.Errorf("--signature: %w", err)
				}
				c.header = http.Header{"X-Cdp-Signature": {base64.StdEncoding.EncodeToString(sig)}}
			}
			var p pluginView
			if err := c.call(cmd, "POST", "/admin/plugins?"+q.Encode(), "application/wasm", module, &p); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "uploaded %s %s (%s) as %s, state %s\nid %s\n", p.Name, p.Version, p.Kind, short(p.ID), p.State, p.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "store the module as a scorer, predictor or predictor+scorer (default: its manifest's kind)")
	f.StringVar(&name, "name", "", "expected manifest name (the upload is refused when it differs)")
	f.StringVar(&version, "version", "", "expected manifest version (the upload is refused when it differs)")
	f.StringVar(&desc, "description", "", "description to record instead of the manifest's")
	f.StringVar(&cfg, "config", "", "JSON configuration passed to the plugin's cdp_init, or @FILE (default {})")
	f.StringVar(&signature, "signature", "", "detached signature `file` written by 'cdp plugin sign' (default FILE.wasm.sig when it exists)")
	return cmd
}

// newPluginSignCmd: cdp plugin sign --key KEY FILE.wasm
func newPluginSignCmd() *cobra.Command {
	var key, out string
	cmd := &cobra.Command{
		Use:   "sign --key KEY.pem FILE.wasm",
		Short: "Sign a Wasm module with an Ed25519 key",
		Long: `Write FILE.wasm.sig, a detached Ed25519 signature of the module's bytes by
the private key --key (PEM, PKCS #8; 'cdp plugin keygen' makes one). A server
whose plugins.trusted_keys holds the matching public key accepts the module
with it; 'cdp plugin upload' sends FILE.wasm.sig along, and a module named by
plugins.scorer.path or plugins.predictor.path is checked against PATH.sig.`,
		Example: `  cdp plugin keygen release
  cdp plugin sign --key release.key bin/plugins/c-cpa.wasm`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return usagef(cmd, "--key: name the private key file")
			}
			kb, err := os.ReadFile(key)
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			priv, err := security.ParseSigningKey(kb)
			if err != nil {
				return fmt.Errorf("--key %s: %w", key, err)
			}
			module, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if out == "" {
				out = args[0] + ".sig"
			}
			if err := os.WriteFile(out, security.SignPlugin(priv, module), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s with key %s: %s\n", args[0], security.KeyID(priv.Public().(ed25519.PublicKey)), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "Ed25519 private key `file` (PEM, PKCS #8)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "signature `file` (default FILE.wasm.sig)")
	return cmd
}

// newPluginKeygenCmd: cdp plugin keygen NAME
func newPluginKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen NAME",
		Short: "Make an Ed25519 key pair for signing plugins",
		Long: `Write NAME.key (the private key, mode 0600: keep it where releases are
built) and NAME.pub (the public key: list it in the servers'
plugins.trusted_keys).`,
		Example: `  cdp plugin keygen release`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			priv, pub, err := security.GenerateSigningKey()
			if err != nil {
				return err
			}
			if _, err := os.Stat(args[0] + ".key"); err == nil {
				return fmt.Errorf("%s.key exists: not overwritten", args[0])
			}
			if err := os.WriteFile(args[0]+".key", priv, 0o600); err != nil {
				return err
			}
			if err := os.WriteFile(args[0]+".pub", pub, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.key (private) and %s.pub (for plugins.trusted_keys)\n", args[0], args[0])
			return nil
		},
	}
}

func newPluginListCmd(c *adminClient) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the plugins of a running server",
		Long: `List the server's plugins, newest upload first: id (sha256 prefix), name,
version, kind, state (stored, shadow, active, retired, broken), pairs scored,
time per pair and failures; then the active models and the one in shadow.`,
		Example: `  cdp plugin list --server http://cdp:8080`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var raw json.RawMessage
			if err := c.call(cmd, "GET", "/admin/plugins", "", nil, &raw); err != nil {
				return err
			}
			if asJSON {
				var v any
				_ = json.Unmarshal(raw, &v)
				return printJSON(cmd.OutOrStdout(), v)
			}
			var list struct {
				Plugins []pluginView `json:"plugins"`
				Status  struct {
					Active map[string]refView `json:"active"`
					Shadow *refView           `json:"shadow"`
				} `json:"status"`
			}
			if err := json.Unmarshal(raw, &list); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tVERSION\tKIND\tSTATE\tPAIRS\tNS/PAIR\tFAILURES\tUPLOADED")
			for _, p := range list.Plugins {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%.0f\t%d\t%s\n", short(p.ID), p.Name, p.Version, p.Kind, p.State,
					p.Counters.Pairs, p.Metrics.NsPerPair, p.Counters.Failures, p.Uploaded.Local().Format(time.DateTime))
			}
			w.Flush()
			out := cmd.OutOrStdout()
			for _, k := range []string{"scorer", "predictor"} {
				if r, ok := list.Status.Active[k]; ok {
					fmt.Fprintf(out, "active %-9s %s\n", k, r)
				}
			}
			if s := list.Status.Shadow; s != nil {
				fmt.Fprintf(out, "shadow           %s\n", *s)
			}
			return nil
		},
	}
	boolSwitch(cmd.Flags(), &asJSON, "json", "", "print the server's answer as JSON")
	return cmd
}

func newPluginShowCmd(c *adminClient) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one plugin: state history, failures, metrics, shadow comparison (JSON)",
		Long: `Print the server's record of one plugin as JSON. ID is the module's sha256 or a
unique prefix of at least 8 hex characters.`,
		Example: `  cdp plugin show 3f2a9c1d`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v any
			if err := c.call(cmd, "GET", "/admin/plugins/"+url.PathEscape(args[0]), "", nil, &v); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), v)
		},
	}
}

func newPluginShadowCmd(c *adminClient) *cobra.Command {
	var share float64
	var stop bool
	cmd := &cobra.Command{
		Use:   "shadow ID",
		Short: "Run a scorer in shadow beside the active one",
		Long: `The plugin scores a share of the live batches beside the active scorer; its
answers never reach the risk events. 'cdp plugin show ID' reports how often
and by how much the two disagree and their time per pair.`,
		Example: `  cdp plugin shadow --share 0.25 3f2a9c1d
  cdp plugin shadow --stop 3f2a9c1d`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if share < 0 || share > 1 {
				return usagef(cmd, "--share %v: want a fraction in (0, 1]", share)
			}
			body, _ := json.Marshal(map[string]any{"share": share, "stop": stop})
			var p pluginView
			if err := c.call(cmd, "POST", "/admin/plugins/"+url.PathEscape(args[0])+"/shadow", "application/json", body, &p); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s): %s\n", p.Name, p.Version, short(p.ID), p.State)
			return nil
		},
	}
	cmd.Flags().Float64Var(&share, "share", 0, "fraction of batches scored in shadow, in (0, 1] (default: the server's, 0.1)")
	boolSwitch(cmd.Flags(), &stop, "stop", "", "stop shadowing")
	return cmd
}

func newPluginActivateCmd(c *adminClient) *cobra.Command {
	return &cobra.Command{
		Use:   "activate ID",
		Short: "Make a plugin the active model of its kind",
		Long: `Switch atomically between two ticks: batches in flight finish on the old
model, open risks stay tracked and are re-scored by the new one. The previous
model becomes the first fallback and 'cdp plugin rollback' returns to it.`,
		Example: `  cdp plugin activate 3f2a9c1d`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res struct {
				Activations []activationView `json:"activations"`
				Plugin      pluginView       `json:"plugin"`
			}
			if err := c.call(cmd, "POST", "/admin/plugins/"+url.PathEscape(args[0])+"/activate", "", nil, &res); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(res.Activations) == 0 {
				fmt.Fprintf(out, "%s %s (%s) is active already\n", res.Plugin.Name, res.Plugin.Version, short(res.Plugin.ID))
			}
			for _, a := range res.Activations {
				fmt.Fprintf(out, "active %s: %s (was %s)\n", a.Kind, a.To, a.From)
			}
			return nil
		},
	}
}

func newPluginRollbackCmd(c *adminClient) *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Return to the previously active model of a kind, in one call",
		Long: `Make the model that was active before the current one active again (a plugin,
or the base model the server started with); the current plugin is retired.
Rolling back again goes one step further back.`,
		Example: `  cdp plugin rollback
  cdp plugin rollback --kind predictor`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, _ := json.Marshal(map[string]string{"kind": kind})
			var res struct {
				Activation activationView `json:"activation"`
			}
			if err := c.call(cmd, "POST", "/admin/plugins/rollback", "application/json", body, &res); err != nil {
				return err
			}
			a := res.Activation
			fmt.Fprintf(cmd.OutOrStdout(), "active %s: %s (rolled back from %s)\n", a.Kind, a.To, a.From)
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "scorer", "which model to roll back: scorer or predictor")
	return cmd
}

func newPluginDeleteCmd(c *adminClient) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a plugin that is not active",
		Long: `Remove the plugin and its module from the server's registry. The active plugin
cannot be deleted: activate another model or roll back first.`,
		Example: `  cdp plugin delete 3f2a9c1d`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.call(cmd, "DELETE", "/admin/plugins/"+url.PathEscape(args[0]), "", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
			return nil
		},
	}
}

var _ error = (*problemError)(nil)
