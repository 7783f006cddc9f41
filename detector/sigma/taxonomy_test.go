package sigma

import (
	"testing"

	"github.com/vigil-audit/vigil/internal/event"
)

// TestFieldAccessors reads every field of the taxonomy from a full event
// and from an empty one: no accessor may panic on absent parts (nil
// location, coordinates, attrs), and every field but the booleans is
// absent in the empty event and present in the full one.
func TestFieldAccessors(t *testing.T) {
	fullAccess := baseAccess()
	fullAccess.Subject.VIP, fullAccess.Subject.Employee = true, true
	fullAccess.Client.Geo.Region = "Shanghai"
	fullDevice := baseDevice()
	fullDevice.ReceivedAt, fullDevice.Source = fullDevice.OccurredAt, "sdk"
	fullDevice.Signals = event.Signals{Emulator: true, Rooted: true, HookFramework: true, Debugger: true, AppTampered: true,
		ProxyOrVPN: true, MultiOpen: true, LocationSpoofed: true, RemoteControl: true}
	full := map[Service]Event{ServiceAccess: Access(fullAccess), ServiceDevice: Device(fullDevice)}
	empty := map[Service]Event{ServiceAccess: Access(&event.AccessEvent{}), ServiceDevice: Device(&event.DeviceEvent{})}
	for _, svc := range []Service{ServiceAccess, ServiceDevice} {
		for _, info := range Fields(svc) {
			path := info.Path
			if path == AttrsPrefix+"<key>" {
				path = AttrsPrefix + map[Service]string{ServiceAccess: "ward", ServiceDevice: "channel"}[svc]
			}
			f := lookupField(svc, path)
			if f == nil {
				t.Errorf("%s: Fields lists %s, lookupField does not find it", svc, path)
				continue
			}
			for name, ev := range map[string]Event{"full": full[svc], "empty": empty[svc]} {
				var nonZero bool
				switch f.Type {
				case TypeString, TypeEnum, TypeIP:
					nonZero = f.str(ev) != ""
				case TypeBool:
					nonZero = f.boolean(ev)
				case TypeNumber:
					nonZero = f.num(ev) != 0
				case TypeTime:
					nonZero = !f.when(ev).IsZero()
				case TypeEnumList:
					nonZero = len(f.list(ev)) > 0
				default:
					t.Errorf("%s %s: no accessor for type %v", svc, path, f.Type)
				}
				present := f.present(ev)
				switch {
				case f.Type == TypeBool && !present:
					t.Errorf("%s %s: a boolean is absent", svc, path)
				case f.Type != TypeBool && name == "empty" && present:
					t.Errorf("%s %s: present in the empty event", svc, path)
				case name == "full" && !nonZero:
					t.Errorf("%s %s: the full event of the test has no value; give it one", svc, path)
				case name == "full" && !present:
					t.Errorf("%s %s: a value that is not reported as present", svc, path)
				}
			}
		}
	}
	if lookupField(ServiceAccess, "attrs.") != nil || lookupField(ServiceAccess, "attrs.a b") != nil || lookupField("other", "org") != nil {
		t.Error("lookupField accepts a bad attrs key or service")
	}
	if Fields("other") != nil {
		t.Error("Fields of an unknown service")
	}
}

func TestFieldTypeString(t *testing.T) {
	for typ, want := range map[FieldType]string{TypeString: "string", TypeEnum: "enum", TypeIP: "ip", TypeBool: "bool",
		TypeNumber: "number", TypeTime: "time", TypeEnumList: "list of enum", 0: "unknown"} {
		if typ.String() != want {
			t.Errorf("%d.String() = %q, want %q", typ, typ.String(), want)
		}
	}
}
