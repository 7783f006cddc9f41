package notifier

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/auth"
	"github.com/vigil-audit/vigil/internal/event"
)

func apiServer(t *testing.T) (*rig, *httptest.Server) {
	t.Helper()
	r := newRig(t, nil)
	ops, err := Operators([]OperatorConfig{
		{Name: "dpo-wang", Roles: []string{RoleDPO}, TokenSHA256: auth.Hash("dpo-token")},
		{Name: "analyst-li", Roles: []string{RoleAnalyst}, TokenSHA256: auth.Hash("analyst-token")},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewAPI(r.svc, r.disp, ops, nil).Handler())
	t.Cleanup(srv.Close)
	if _, _, err := r.svc.OnAlert(context.Background(), alert("al1", "act1", t0)); err != nil {
		t.Fatal(err)
	}
	return r, srv
}

func call(t *testing.T, srv *httptest.Server, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: response is not JSON: %v\n%s", method, path, err, raw)
		}
	}
	return resp.StatusCode, out
}

func TestAPIErrors(t *testing.T) {
	_, srv := apiServer(t)
	for _, tc := range []struct {
		name, token, method, path, body string
		status                          int
		code, msg                       string
	}{
		{"no token", "", "GET", "/api/v1/incidents/inc-act1", "", 401, "unauthorized", "missing Authorization"},
		{"unknown token", "guess", "GET", "/api/v1/incidents/inc-act1", "", 401, "unauthorized", "unknown token"},
		{"unknown incident", "dpo-token", "GET", "/api/v1/incidents/nope-nope-nope", "", 404, "not_found", "unknown incident"},
		{"bad state", "analyst-token", "POST", "/api/v1/incidents/inc-act1/transition", `{"to":"solved"}`, 400, "bad_request", `"solved" is not one of`},
		{"unknown body field", "analyst-token", "POST", "/api/v1/incidents/inc-act1/transition", `{"to":"triage","why":"x"}`, 400, "bad_request", `unknown field "why"`},
		{"wrong type", "analyst-token", "POST", "/api/v1/incidents/inc-act1/fields", `{"fields":{"facts":3}}`, 400, "bad_request", "cannot unmarshal number"},
		{"trailing data", "analyst-token", "POST", "/api/v1/incidents/inc-act1/fields", `{"fields":{"facts":"x"}} {}`, 400, "bad_request", "trailing data"},
		{"too large", "analyst-token", "POST", "/api/v1/incidents/inc-act1/fields", `{"fields":{"facts":"` + strings.Repeat("x", maxBody) + `"}}`, 413, "too_large", "request body too large"},
		{"illegal transition", "analyst-token", "POST", "/api/v1/incidents/inc-act1/transition", `{"to":"closed"}`, 409, "conflict", "illegal transition"},
		{"approve before confirm", "dpo-token", "POST", "/api/v1/incidents/inc-act1/obligations/pipl.individual/approve", ``, 409, "conflict", "not confirmed"},
		{"wrong method", "dpo-token", "DELETE", "/api/v1/incidents/inc-act1", ``, 405, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, srv, tc.token, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, body)
			}
			if tc.code != "" && (body["code"] != tc.code || !strings.Contains(body["error"].(string), tc.msg)) {
				t.Fatalf("body %v, want code %q and an error containing %q", body, tc.code, tc.msg)
			}
		})
	}
}

func TestAPIRunsAnIncident(t *testing.T) {
	r, srv := apiServer(t)
	post := func(token, path, body string, want int) map[string]any {
		t.Helper()
		status, out := call(t, srv, token, "POST", path, body)
		if status != want {
			t.Fatalf("POST %s: %d %v, want %d", path, status, out, want)
		}
		return out
	}
	aware := t0.Add(10 * time.Minute).Format(time.RFC3339)
	inc := post("analyst-token", "/api/v1/incidents/inc-act1/transition", `{"to":"confirmed","reason":"bulk reading confirmed","aware_at":"`+aware+`"}`, 200)
	if inc["state"] != "confirmed" || inc["aware_at"] != "2026-12-05T08:10:00.000Z" {
		t.Fatalf("after confirm: state %v aware %v", inc["state"], inc["aware_at"])
	}
	post("analyst-token", "/api/v1/incidents/inc-act1/obligations/pipl.individual/approve", ``, 403)
	out := post("dpo-token", "/api/v1/incidents/inc-act1/obligations/pipl.individual/approve", ``, 409)
	if out["code"] != "missing_field" {
		t.Fatalf("approve without content: %v", out)
	}
	post("analyst-token", "/api/v1/incidents/inc-act1/fields", `{"fields":{"facts":"f","cause":"c"}}`, 200)
	post("dpo-token", "/api/v1/incidents/inc-act1/obligations/pipl.individual/approve", `{}`, 200)
	if _, err := r.disp.Dispatch(context.Background()); err != nil {
		t.Fatal(err)
	}
	post("dpo-token", "/api/v1/incidents/inc-act1/obligations/cac.initial/submit", `{"version":"initial","reference":"CAC-1"}`, 200)
	post("dpo-token", "/api/v1/incidents/inc-act1/obligations/nope/waive", `{"reason":"x"}`, 404)

	status, view := call(t, srv, "dpo-token", "GET", "/api/v1/incidents/inc-act1", "")
	if status != 200 {
		t.Fatal(status)
	}
	notices := view["notices"].(map[string]any)["pipl.individual"].(map[string]any)
	if notices["sent"] != float64(2) || notices["failed"] != float64(1) {
		t.Fatalf("notice progress %v, want 2 sent and 1 failed", notices)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/incidents?open=true", nil)
	req.Header.Set("Authorization", "Bearer dpo-token")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []IncidentSummary
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].IncidentID != "inc-act1" || list[0].State != event.IncidentConfirmed || list[0].People != 3 {
		t.Fatalf("list %+v", list)
	}
}

func TestOperatorsConfig(t *testing.T) {
	_, err := Operators([]OperatorConfig{
		{Name: "", Roles: []string{"dpo"}, TokenSHA256: auth.Hash("a")},
		{Name: "x", Roles: []string{"boss"}, TokenSHA256: "a"},
		{Name: "y", TokenSHA256: auth.Hash("a")},
	})
	for _, want := range []string{"operators[0].name: required", `operators[1].roles[0]: "boss" is not one of`,
		"operators[1].token_sha256: must be 64 hex digits", "operators[2].roles: required", "operators[2].token_sha256: the same token is configured twice"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
