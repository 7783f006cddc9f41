package syslog_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/vigil-audit/vigil/collector/syslog"
)

func ExampleParse() {
	m, err := syslog.Parse([]byte(`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry...`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Format, m.Facility, m.Severity, m.Timestamp.Format(time.RFC3339Nano))
	fmt.Println(m.Hostname, m.AppName, m.MsgID)
	fmt.Println(m.StructuredData[0].ID, m.StructuredData[0].Params[1].Name, m.StructuredData[0].Params[1].Value)
	fmt.Printf("%s\n", m.Msg)

	_, err = syslog.Parse([]byte(`<165>1 - - - - - [exampleSDID@32473 iut="3]`))
	fmt.Println(err)
	// Output:
	// rfc5424 20 5 2003-10-11T22:14:15.003Z
	// mymachine.example.com evntslog ID47
	// exampleSDID@32473 eventSource Application
	// An application event log entry...
	// syslog: rfc5424: structured data: param "iut" at byte 40: missing closing quote
}

func ExampleToJSON() {
	m, _ := syslog.Parse([]byte(`<110>1 2026-11-28T09:30:00.123Z ehr-01 ehr 4711 - [vigil@32473 kind="access" org="h1" actor.id="u1" actor.type="doctor" action="read" subject.id="p9" subject.type="patient" categories="health,prescription" record_count="3" outcome="success"]`))
	kind, body, err := syslog.ToJSON(m, syslog.MappingOptions{})
	fmt.Println(kind, err)
	fmt.Printf("%s\n", body)

	m, _ = syslog.Parse([]byte(`<110>1 2026-11-28T09:30:00.123Z ehr-01 ehr 4711 access - {"org":"h1"}`))
	kind, body, err = syslog.ToJSON(m, syslog.MappingOptions{})
	fmt.Printf("%s %s %v\n", kind, body, err)
	// Output:
	// access <nil>
	// {"org":"h1","actor":{"id":"u1","type":"doctor"},"action":"read","subject":{"id":"p9","type":"patient"},"categories":["health","prescription"],"record_count":3,"outcome":"success","occurred_at":"2026-11-28T09:30:00.123Z","attrs":{"syslog.hostname":"ehr-01","syslog.app_name":"ehr"}}
	// access {"org":"h1"} <nil>
}

func ExampleServer() {
	received := make(chan syslog.Received, 1)
	h := syslog.HandlerFunc(func(ctx context.Context, r syslog.Received) error {
		select {
		case received <- r: // a real handler spools the event, blocking when the spool is full
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	s, err := syslog.NewServer(syslog.Config{TCPListen: "127.0.0.1:0"}, h)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()

	c, err := net.Dial("tcp", s.Addrs().TCP.String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	msg := `<110>1 2026-11-28T09:30:00Z ehr-01 ehr - access - {"org":"h1"}`
	fmt.Fprintf(c, "%d %s", len(msg), msg) // octet counting

	r := <-received
	fmt.Println(r.Transport, r.ParseErr, r.Message.MsgID)
	fmt.Printf("%s\n", r.Message.Msg)
	// Output:
	// tcp <nil> access
	// {"org":"h1"}
}
