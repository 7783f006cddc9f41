// Package config loads Vigil's configuration from three layers, each
// overriding the one before:
//
//  1. a YAML file (--config FILE or VIGIL_CONFIG),
//  2. environment variables VIGIL_<KEY PATH> ("bus.sasl.mechanism" →
//     VIGIL_BUS_SASL_MECHANISM); any key can instead be read from a file
//     named by VIGIL_<KEY PATH>_FILE, which is how secrets are passed,
//  3. command-line flags, which name the key they set.
//
// Defaults are the values already in the destination struct before Load; each
// stage defines them in one place. Decoding is strict: an unknown key, a
// duplicate key, a value of the wrong type or a malformed duration is a
// Problem with the key path, where it came from (file:line, env VAR or flag
// --name) and what is wrong. Load and Validate return every problem at once
// in an *Error, never just the first.
//
// Cross-field and required-value checks live on the configuration structs
// themselves: a struct implementing Validator returns problems with keys
// relative to itself, and Validate prefixes them with the struct's path.
//
// Lists are YAML sequences in the file and comma-separated in environment
// variables and flags; maps are YAML mappings, or k=v,k=v.
package config
