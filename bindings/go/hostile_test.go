package ocireg_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	ocireg "github.com/ocireg/ocireg/bindings/go"
)

// rawClient follows no redirect and uses no proxy: it shows what the test registry sends.
var rawClient = &http.Client{
	Transport: &http.Transport{Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

func rawGet(t *testing.T, u string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	must(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := rawClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp, body
}

// The test registry's hostile mode through the C ABI (SetHostile), checked with net/http.
func TestSetHostile(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	_, err := reg.AddImage("team/app", "v1", []byte("{}"), []byte("one"))
	must(t, err)
	for _, tag := range []string{"v2", "v3"} {
		_, m := rawGet(t, reg.URL()+"/v2/team/app/manifests/v1", nil)
		_, err := reg.AddManifest("team/app", tag, ociManifest, m)
		must(t, err)
	}

	err = reg.SetHostile("slow-drip:soon")
	if !errors.Is(err, ocireg.ErrInvalidArgument) || !strings.Contains(err.Error(), `"slow-drip:soon"`) {
		t.Fatalf("a bad spec: %v", err)
	}
	if err := reg.SetHostile("bad\x00spec"); !errors.Is(err, ocireg.ErrInvalidArgument) {
		t.Fatalf("a spec with a NUL: %v", err)
	}

	must(t, reg.SetHostile("query-only-link"))
	resp, _ := rawGet(t, reg.URL()+"/v2/team/app/tags/list?n=1", nil)
	if link := resp.Header.Get("Link"); link != `<?last=v1&n=1>; rel="next"` {
		t.Fatalf("Link %q", link)
	}

	must(t, reg.SetHostile("cross-origin-link"))
	resp, _ = rawGet(t, reg.URL()+"/v2/team/app/tags/list?n=2", nil)
	link := resp.Header.Get("Link")
	if !strings.HasPrefix(link, "<http://127.0.0.1:") || !strings.HasSuffix(link, `/v2/team/app/tags/list?last=v2&n=2>; rel="next"`) {
		t.Fatalf("Link %q", link)
	}
	next, err := url.Parse(strings.TrimPrefix(strings.SplitN(link, ">", 2)[0], "<"))
	must(t, err)
	registryURL, err := url.Parse(reg.URL())
	must(t, err)
	if next.Port() == registryURL.Port() {
		t.Fatalf("the next page %s is on the registry's own port", next)
	}
	must(t, reg.ClearRequests())
	resp, body := rawGet(t, next.String(), map[string]string{"Authorization": "Basic bm90OmFzZWNyZXQ="})
	var page struct {
		Tags []string `json:"tags"`
	}
	must(t, json.Unmarshal(body, &page))
	if resp.StatusCode != 200 || strings.Join(page.Tags, ",") != "v3,from-other-origin" {
		t.Fatalf("the other origin answered %d %s", resp.StatusCode, body)
	}
	log, err := reg.RequestsJSON()
	must(t, err)
	var requests []map[string]any
	must(t, json.Unmarshal([]byte(log), &requests))
	if len(requests) != 1 || requests[0]["objectStore"] != true || requests[0]["authorized"] != true ||
		requests[0]["path"] != "/v2/team/app/tags/list" {
		t.Fatalf("recorded %s", log)
	}

	must(t, reg.SetHostile("none"))
	resp, _ = rawGet(t, reg.URL()+"/v2/team/app/tags/list?n=2", nil)
	if link := resp.Header.Get("Link"); !strings.HasPrefix(link, "</v2/team/app/tags/list?") {
		t.Fatalf("Link %q after none", link)
	}
}

// --- The client against the hostile registry: credentials never leave the origin, no hang. ---

// otherOrigin is what the registry's second listener (another port) was asked.
func otherOrigin(t *testing.T, reg *ocireg.TestRegistry) []map[string]any {
	t.Helper()
	log, err := reg.RequestsJSON()
	must(t, err)
	var all []map[string]any
	must(t, json.Unmarshal([]byte(log), &all))
	var there []map[string]any
	for _, r := range all {
		if r["objectStore"] == true {
			there = append(there, r)
		}
	}
	return there
}

func TestClientRefusesACrossOriginLink(t *testing.T) {
	for _, mode := range []ocireg.AuthMode{ocireg.AuthBasic, ocireg.AuthBearer} {
		reg := startRegistry(t, mode, map[string]string{"alice": "secret"})
		if _, err := reg.AddImage("team/app", "v1", []byte("{}"), []byte("one")); err != nil {
			t.Fatal(err)
		}
		must(t, reg.SetHostile("cross-origin-link"))
		c := newClientNoAnon(t, reg.URL(), ocireg.WithBasicAuth("alice", "secret"))
		_, err := c.Tags(ctx, "team/app")
		if !errors.Is(err, ocireg.ErrProtocol) || !strings.Contains(err.Error(), "another origin") {
			t.Fatalf("mode %v: Tags = %v, want ErrProtocol", mode, err)
		}
		if there := otherOrigin(t, reg); len(there) != 0 {
			t.Fatalf("mode %v: the other origin was asked: %v", mode, there)
		}
	}
}

func TestClientSendsNoCredentialsAcrossARedirectToAnotherPort(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthBasic, map[string]string{"alice": "secret"})
	if _, err := reg.AddImage("team/app", "v1", []byte("{}"), []byte("one")); err != nil {
		t.Fatal(err)
	}
	must(t, reg.SetHostile("cross-port-redirect"))
	c := newClientNoAnon(t, reg.URL(), ocireg.WithBasicAuth("alice", "secret"))
	tags, err := c.Tags(ctx, "team/app")
	if err != nil || len(tags) != 1 {
		t.Fatalf("Tags = %v, %v", tags, err)
	}
	there := otherOrigin(t, reg)
	if len(there) == 0 {
		t.Fatal("the redirect was not followed")
	}
	for _, r := range there {
		if r["authorized"] == true {
			t.Fatalf("credentials sent to the other origin: %v", r)
		}
	}
}

func TestClientGivesUpOnASlowDrip(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	if _, err := reg.AddImage("team/app", "v1", []byte("{}"), []byte("one")); err != nil {
		t.Fatal(err)
	}
	must(t, reg.SetHostile("slow-drip:200"))
	c := newClient(t, reg.URL(), ocireg.WithLowSpeedLimit(1000, time.Second))
	_, err := c.Tags(ctx, "team/app")
	if !errors.Is(err, ocireg.ErrTimeout) || !strings.Contains(err.Error(), "low-speed limit") {
		t.Fatalf("Tags = %v, want ErrTimeout", err)
	}
}
