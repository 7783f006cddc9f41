package event

import "embed"

//go:embed schema/*.json
var schemaFS embed.FS

// Names of the published JSON Schemas, for Schema. Each is the topic's name
// without the "vigil." prefix and is also the schema's file name under
// schema/ (access.v1.json).
const (
	SchemaAccess = "access.v1"
	SchemaDevice = "device.v1"
)

// Schema returns the published JSON Schema (draft 2020-12) named name,
// SchemaAccess or SchemaDevice, for senders to validate against; nil for
// another name. Each call returns a fresh copy.
func Schema(name string) []byte {
	b, err := schemaFS.ReadFile("schema/" + name + ".json")
	if err != nil {
		return nil
	}
	return b
}
