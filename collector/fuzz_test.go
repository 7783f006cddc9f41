package collector

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzHTTPIngest sends arbitrary bodies (NDJSON, arrays, garbage) to the
// ingest handler: it never panics, always answers JSON, and its per-line
// results add up with what reached the spool.
func FuzzHTTPIngest(f *testing.F) {
	f.Add([]byte(goodAccess + "\n" + goodAccess))
	f.Add([]byte("[" + goodAccess + "," + goodAccess + "]"))
	f.Add([]byte("{\"a\":1}\n\n\r\nnot json\n[1,2"))
	f.Add([]byte("[ {} , [] , \"x\" ]"))
	f.Add([]byte(`{"occurred_at":"2026-11-28T09:30:00Z","org":"h1","actor":{"id":"u1","type":"doctor"},"action":"login","outcome":"success"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sp := &memSpool{}
		h := newTestHandler(t, sp, HTTPConfig{MaxBodyBytes: 1 << 16, MaxEventBytes: 4096, MaxEvents: 50})
		req := httptest.NewRequest(http.MethodPost, "/v1/access", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var resp struct {
			Accepted int               `json:"accepted"`
			Rejected int               `json:"rejected"`
			Results  []json.RawMessage `json:"results"`
			Error    string            `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("status %d, body not JSON: %q", rec.Code, rec.Body.String())
		}
		recs := sp.records(t)
		switch rec.Code {
		case http.StatusOK, http.StatusMultiStatus, http.StatusUnprocessableEntity:
			if resp.Accepted+resp.Rejected != len(resp.Results) || len(recs) != len(resp.Results) {
				t.Fatalf("status %d: %d accepted + %d rejected, %d results, %d spool records", rec.Code, resp.Accepted, resp.Rejected, len(resp.Results), len(recs))
			}
			accepted := 0
			for _, r := range recs {
				if r.topic != topicDeadLetter {
					accepted++
				}
			}
			if accepted != resp.Accepted {
				t.Fatalf("%d events spooled, %d reported accepted", accepted, resp.Accepted)
			}
		default:
			if resp.Error == "" {
				t.Fatalf("status %d without an error message", rec.Code)
			}
			for _, r := range recs {
				if r.topic != topicDeadLetter {
					t.Fatalf("status %d but an event was spooled", rec.Code)
				}
			}
		}
	})
}
