package pseudo_test

import (
	"fmt"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/event"
)

func Example() {
	// In the binary: key, err := pseudo.LoadKey(os.Environ(), cfg)
	key := make([]byte, 32) // all zero: for the example only
	cfg := pseudo.Defaults()
	cfg.AllowRaw = []string{"client.device_id"}
	p, err := pseudo.New(key, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	lat, lon := 30.274085, 120.155070
	e := event.AccessEvent{
		Actor:   event.Actor{ID: "staff-004217", Type: event.ActorDoctor},
		Subject: event.Subject{ID: "pt-8812734", Type: event.SubjectPatient},
		Client:  event.Client{DeviceID: "ws-17", Geo: event.Geo{Lat: &lat, Lon: &lon}},
		Attrs:   map[string]string{"phone": "+86 138 0013 8000", "ward": "7B"},
	}
	p.Access(&e)
	fmt.Println("key id:    ", p.KeyID())
	fmt.Println("actor.id:  ", e.Actor.ID)
	fmt.Println("subject.id:", e.Subject.ID)
	fmt.Println("device_id: ", e.Client.DeviceID)
	fmt.Println("geo:       ", *e.Client.Geo.Lat, *e.Client.Geo.Lon)
	fmt.Println("phone:     ", e.Attrs["phone"], e.Attrs["phone"] == p.Token(pseudo.Person, "13800138000"))
	fmt.Println("ward:      ", e.Attrs["ward"])

	dead := p.ScrubRaw([]byte(`{"subject":{"id":"pt-8812734"},"action":"exfil","note":"mail bob@example.org","x":"…"}`), 125)
	fmt.Println(string(dead))
	// Output:
	// key id:     66687aad
	// actor.id:   staff-004217
	// subject.id: p_njgcjz5pcb5vat4bzb3dkee2smfcpzbw
	// device_id:  ws-17
	// geo:        30.27 120.16
	// phone:      p_kwh7xka6cmv7embg7glrhc3ugsnus776 true
	// ward:       7B
	// {"subject":{"id":"p_njgcjz5pcb5vat4bzb3dkee2smfcpzbw"},"action":"exfil","note":"mail p_443yi2iox4525y2o43avf7o72bs7prxi","x":…[truncated 6 bytes]
}
