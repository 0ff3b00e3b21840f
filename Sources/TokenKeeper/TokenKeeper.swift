@_exported import Access
@_exported import CLI
@_exported import Crypto
@_exported import Custody
@_exported import Identity
@_exported import PostgresClient
@_exported import Report
@_exported import Runner
@_exported import Spec
@_exported import Stages
@_exported import Store
@_exported import Support
@_exported import Vault

// The product library `TokenKeeper`: one import for Swift callers (a web service using
// `TokenAccess`, a tool driving the vault). Each layer is its own target so the compiler keeps the
// layers apart (README "Project layout"); this file only re-exports their public API.
