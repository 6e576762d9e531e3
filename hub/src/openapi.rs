//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`. Written by hand
//! next to the router; a test checks that every route is documented and every
//! documented path is routed.

use serde_json::{json, Value};

fn err_responses() -> Value {
    let e = json!({"description": "refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}});
    json!({"400": e.clone(), "401": e.clone(), "403": e.clone(), "404": e.clone(), "409": e.clone(), "413": e.clone(), "415": e.clone(), "422": e})
}

fn body(schema: &str) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn ok(schema: Option<&str>, status: &str) -> Value {
    let mut r = err_responses();
    let ok = match schema {
        Some(s) => json!({"description": "ok", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{s}")}}}}),
        None => json!({"description": "done"}),
    };
    r[status] = ok;
    r
}

fn op(summary: &str, auth: Option<&str>, request: Option<&str>, reply: Option<&str>, status: &str) -> Value {
    let mut o = json!({"summary": summary, "responses": ok(reply, status)});
    if let Some(a) = auth {
        o["security"] = json!([{ a: [] }]);
    }
    if let Some(r) = request {
        o["requestBody"] = body(r);
    }
    o
}

/// An operation whose 422 carries the dose rules' findings (or, for a body
/// that is not the documented one, the usual error).
fn refusable(mut o: Value) -> Value {
    let either = json!({"anyOf": [{"$ref": "#/components/schemas/Refused"}, {"$ref": "#/components/schemas/ApiError"}]});
    o["responses"]["422"] = json!({"description": "refused by the dose rules, or a body without the documented fields", "content": {"application/json": {"schema": either}}});
    o
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
}

/// What `check_code` accepts: site, desk, lot and user codes.
fn code() -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,31}$"})
}

/// What `check_name` accepts: 1-120 characters, not all blank, no control characters.
fn name() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 120, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"})
}

fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

pub fn document() -> Value {
    let object = json!({"type": "object"});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "vaxdesk hub", "version": "1", "description": "Sync between vaccination desks and their hub; coordinator set-up."},
        "paths": {
            "/api/v1/enroll": {"post": op("Enroll a desk with a one-time code", None, Some("EnrollRequest"), Some("EnrollReply"), "200")},
            "/api/v1/token": {"post": op("A fresh device token; the old one works until the new one is first used", Some("device"), None, Some("NewToken"), "200")},
            "/api/v1/events": {"post": op("Push a batch of at most 500 events (gzip or zstd body accepted)", Some("device"), Some("PushBatch"), Some("PushReply"), "200")},
            "/api/v1/changes": {"get": {
                "summary": "Pull the site's changes after a cursor",
                "security": [{"device": []}],
                "parameters": [
                    {"name": "since", "in": "query", "required": false, "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 5000}},
                    {"name": "kinds", "in": "query", "required": false, "description": "kinds of change added after the first protocol the desk applies, comma-separated (registration)", "schema": {"type": "string"}}
                ],
                "responses": ok(Some("ChangesPage"), "200")
            }},
            "/api/v1/login": {"post": op("Log in as a coordinator", None, Some("Login"), Some("Session"), "200")},
            "/api/v1/coordinators": {"post": op("Add a coordinator (coordinators of every site only)", Some("coordinator"), Some("NewCoordinator"), None, "201")},
            "/api/v1/sites": {
                "get": op("Sites you coordinate", Some("coordinator"), None, Some("Sites"), "200"),
                "put": op("Create or rename a site", Some("coordinator"), Some("Site"), None, "204")
            },
            "/api/v1/sites/{site}/desks": {
                "parameters": [path_param("site")],
                "get": op("Desks of a site", Some("coordinator"), None, Some("Desks"), "200"),
                "put": op("Create or rename a desk", Some("coordinator"), Some("NewDesk"), None, "204")
            },
            "/api/v1/sites/{site}/desks/{desk}/enrollment-codes": {
                "parameters": [path_param("site"), path_param("desk")],
                "post": op("Make a one-time enrollment code for a desk", Some("coordinator"), Some("CodeRequest"), Some("CodeReply"), "200")
            },
            "/api/v1/catalog": {
                "get": op("The catalog in force", Some("coordinator"), None, Some("Catalog"), "200"),
                "put": op("Publish a newer catalog", Some("coordinator"), Some("Catalog"), Some("Catalog"), "200")
            },
            "/api/v1/lots": {"post": op("Add a lot (publishes the catalog one version up)", Some("coordinator"), Some("Lot"), Some("Catalog"), "200")},
            "/api/v1/devices": {"get": op("Enrolled devices of your sites", Some("coordinator"), None, Some("Devices"), "200")},
            "/api/v1/devices/{id}/revoke": {
                "parameters": [path_param("id")],
                "post": op("Revoke a device (refused at once from then on)", Some("coordinator"), None, None, "204")
            },
            "/api/v1/duplicates": {"get": op("Persons who may be one person (at your sites)", Some("coordinator"), None, Some("Duplicates"), "200")},
            "/api/v1/duplicates/{a}/{b}/merge": {
                "parameters": [path_param("a"), path_param("b")],
                "post": op("Merge a possible duplicate: `keep` stays, the other becomes its alias on the hub and every desk (409 duplicate.closed once decided)", Some("coordinator"), Some("Keep"), None, "204")
            },
            "/api/v1/duplicates/{a}/{b}/dismiss": {
                "parameters": [path_param("a"), path_param("b")],
                "post": op("Close a possible duplicate as two different people", Some("coordinator"), None, None, "204")
            },
            "/api/v1/persons/{id}": {
                "parameters": [path_param("id")],
                "get": op("A person's latest record and doses as they stand (404 for another site's person)", Some("coordinator"), None, Some("PersonFile"), "200")
            },
            "/api/v1/doses/{record}/amend": {
                "parameters": [path_param("record")],
                "post": refusable(op("Amend a dose record, checked by the dose rules; 422 dose.refused lists the findings, warnings pass when their codes are in `confirm`", Some("coordinator"), Some("Amend"), Some("Corrected"), "200"))
            },
            "/api/v1/doses/{record}/void": {
                "parameters": [path_param("record")],
                "post": refusable(op("Void a dose record (a reason is required)", Some("coordinator"), Some("Void"), Some("Corrected"), "200"))
            },
            "/api/v1/sites/{site}/registrations": {
                "parameters": [path_param("site")],
                "post": {
                    "summary": "Upload a site's registration list (the platform's CSV in UTF-8, or XLSX); a result for every row",
                    "security": [{"coordinator": []}],
                    "parameters": [{"name": "name", "in": "query", "required": false, "schema": {"type": "string", "maxLength": 200}}],
                    "requestBody": {"required": true, "content": {
                        "text/csv": {"schema": {"type": "string"}},
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}}
                    }},
                    "responses": ok(Some("RegistrationReport"), "200")
                }
            },
            "/api/v1/persons/{id}/certificate": {
                "parameters": [path_param("id")],
                "get": op("Sign an EU-DCC certificate for a completed series or booster (409 cert.not_eligible otherwise)", Some("device"), None, Some("Certificate"), "200")
            },
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "ok"}}}}
        },
        "components": {
            "securitySchemes": {
                "device": {"type": "http", "scheme": "bearer", "description": "token from /enroll"},
                "coordinator": {"type": "http", "scheme": "bearer", "description": "token from /login"}
            },
            "schemas": {
                "ApiError": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
                "EnrollRequest": {"type": "object", "required": ["code", "device_id"], "properties": {
                    "code": {"type": "string"}, "device_id": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,64}$"}, "device_name": {"type": ["string", "null"]},
                    "enroll_key": {"type": ["string", "null"], "description": "the desk's own random secret; a retried or repeated enrollment of this device must send the same"}}},
                "EnrollReply": {"type": "object", "required": ["device_id", "token", "site", "desk"], "properties": {
                    "device_id": {"type": "string"}, "token": {"type": "string"},
                    "site": {"$ref": "#/components/schemas/Site"}, "desk": {"$ref": "#/components/schemas/Desk"}}},
                "WireEvent": {"type": "object", "required": ["stream", "event"], "properties": {
                    "stream": {"enum": ["person", "dose"]}, "event": object.clone()}},
                "NewToken": {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}},
                "PushBatch": {"type": "object", "required": ["events"], "properties": {
                    "events": {"type": "array", "maxItems": 500, "items": {"$ref": "#/components/schemas/WireEvent"}},
                    "pending": {"type": "integer", "minimum": 0, "description": "events the desk still holds after this batch"}}},
                "PushReply": {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": {
                    "type": "object", "required": ["id", "status"], "properties": {
                        "id": {"type": "string"}, "status": {"enum": ["accepted", "duplicate", "rejected"]},
                        "code": {"type": "string"}, "message": {"type": "string"}}}}}},
                "ChangesPage": {"type": "object", "required": ["changes", "cursor", "more"], "properties": {
                    "changes": {"type": "array", "items": {"type": "object", "required": ["type"], "properties": {
                        "type": {"enum": ["catalog", "site", "desk", "event", "person_merge", "registration"]}}}},
                    "cursor": {"type": "string"}, "more": {"type": "boolean"}}},
                "Login": {"type": "object", "required": ["username", "password"], "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
                "Session": {"type": "object", "required": ["token", "expires_at"], "properties": {"token": {"type": "string"}, "expires_at": {"type": "string"}}},
                "NewCoordinator": {"type": "object", "required": ["username", "password"], "properties": {
                    "username": code(), "password": {"type": "string", "minLength": 10}, "sites": {"type": "array", "items": code()}}},
                "Site": {"type": "object", "required": ["code", "name"], "properties": {
                    "code": code(), "name": name(), "province_code": {"type": ["string", "null"], "pattern": "^[0-9]{1,3}$", "description": "the platform's province code (\"01\" or \"001\")"}}},
                "Sites": {"type": "array", "items": {"$ref": "#/components/schemas/Site"}},
                "Desk": {"type": "object", "required": ["code", "site", "name"], "properties": {
                    "code": {"type": "string"}, "site": {"type": "string"}, "name": {"type": "string"}}},
                "Desks": {"type": "array", "items": {"$ref": "#/components/schemas/Desk"}},
                "NewDesk": {"type": "object", "required": ["code", "name"], "properties": {"code": code(), "name": name()}},
                "CodeRequest": {"type": "object", "properties": {"ttl_minutes": {"type": "integer", "minimum": 1, "maximum": 1440}}},
                "CodeReply": {"type": "object", "required": ["code", "text", "expires_at"], "properties": {
                    "code": {"type": "string"}, "text": {"type": "string", "description": "VXD1: text to show as a QR code"}, "expires_at": {"type": "string"}}},
                "Catalog": {"type": "object", "required": ["version", "vaccines", "booster", "near_expiry_days"], "properties": {
                    "version": {"type": "integer"}, "vaccines": {"type": "array", "items": object.clone()}, "lots": {"type": "array", "items": {"$ref": "#/components/schemas/Lot"}},
                    "signers": {"type": "array", "description": "certificate signers the desks trust (the hub adds its own)", "items": {
                        "type": "object", "required": ["kid", "certificate", "public_key"], "properties": {
                            "kid": {"type": "string"}, "certificate": {"type": "string", "description": "X.509 DER, base64"},
                            "public_key": {"type": "string", "description": "P-256 SEC1, base64"}}}}}},
                "Lot": {"type": "object", "required": ["number", "vaccine", "expiry"], "properties": {
                    "number": code(), "vaccine": {"type": "string", "description": "a vaccine code of the catalog (AZ, PF, MD, VC, ...)"}, "expiry": {"type": "string", "format": "date"}}},
                "Devices": {"type": "array", "items": {"type": "object", "required": ["id", "site", "desk", "enrolled_at"], "properties": {
                    "id": {"type": "string"}, "site": {"type": "string"}, "desk": {"type": "string"}, "name": {"type": ["string", "null"]},
                    "enrolled_at": {"type": "string"}, "revoked_at": {"type": ["string", "null"]}, "last_seen_at": {"type": ["string", "null"]}}}},
                "RegistrationReport": {"type": "object", "required": ["upload", "site", "rows", "added", "updated", "unchanged", "refused", "ignored_columns", "results"], "properties": {
                    "upload": {"type": "integer"}, "site": {"type": "string"}, "rows": {"type": "integer"}, "added": {"type": "integer"},
                    "updated": {"type": "integer"}, "unchanged": {"type": "integer"}, "refused": {"type": "integer"},
                    "ignored_columns": {"type": "array", "items": {"type": "string"}},
                    "results": {"type": "array", "items": {"type": "object", "required": ["row", "status"], "properties": {
                        "row": {"type": "integer", "description": "as the spreadsheet numbers it: the header is row 1"}, "name": {"type": "string"},
                        "status": {"enum": ["added", "updated", "unchanged", "refused"]},
                        "person_id": {"type": "string"}, "column": {"type": "string"}, "field": {"type": "string"}, "reason": {"type": "string"},
                        "warnings": {"type": "array", "items": {"type": "string"}}}}}}},
                "Certificate": {"type": "object", "required": ["text", "dose_number", "series_doses", "kid"], "properties": {
                    "text": {"type": "string", "description": "HC1: text to show as a QR code"},
                    "dose_number": {"type": "integer"}, "series_doses": {"type": "integer"}, "kid": {"type": "string"}}},
                "Duplicates": {"type": "array", "items": {"type": "object", "required": ["a", "b", "reason", "status"], "properties": {
                    "a": {"type": "string"}, "b": {"type": "string"}, "reason": {"type": "string"}, "found_at": {"type": "string"},
                    "status": {"enum": ["open", "merged", "dismissed"]}, "site": {"type": ["string", "null"]},
                    "resolved_by": {"type": ["string", "null"]}, "resolved_at": {"type": ["string", "null"]}}}},
                "Keep": {"type": "object", "required": ["keep"], "properties": {"keep": {"type": "string", "description": "a or b"}}},
                "Void": {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string", "minLength": 1}}},
                "Dose": {"type": "object", "required": ["vaccine", "administered_at", "outcome"], "properties": {
                    "vaccine": {"type": "string"}, "lot": {"type": ["string", "null"]}, "lot_expiry": {"type": ["string", "null"], "format": "date"},
                    "dose_number": {"type": ["integer", "null"], "minimum": 1, "maximum": 255},
                    "administered_at": {"type": "string", "format": "date-time"},
                    "outcome": {"enum": ["vaccinated", "deferred", "refused"]}, "note": {"type": ["string", "null"]}}},
                "Amend": {"type": "object", "required": ["dose", "reason"], "properties": {
                    "dose": {"$ref": "#/components/schemas/Dose"}, "reason": {"type": "string", "minLength": 1},
                    "confirm": {"type": "array", "items": {"type": "string"}, "description": "warning codes accepted"}}},
                "Corrected": {"type": "object", "required": ["id", "corrects", "kind"], "properties": {
                    "id": uuid(), "corrects": uuid(), "kind": {"enum": ["amend", "void"]}}},
                "PersonFile": {"type": "object", "required": ["id", "site", "person", "doses"], "properties": {
                    "id": uuid(), "site": {"type": "string"}, "person": object.clone(),
                    "doses": {"type": "array", "items": {"type": "object", "required": ["id", "dose", "head", "amended"], "properties": {
                        "id": uuid(), "head": uuid(), "amended": {"type": "boolean"}, "site": {"type": "string"}, "desk": {"type": "string"},
                        "dose": {"$ref": "#/components/schemas/Dose"}}}}}},
                "Refused": {"type": "object", "required": ["code", "message", "findings"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"},
                    "findings": {"type": "array", "items": {"type": "object", "required": ["code", "severity", "field", "message"], "properties": {
                        "code": {"type": "string"}, "severity": {"enum": ["error", "warning"]}, "field": {"type": "string"}, "message": {"type": "string"}}}}}}
            }
        }
    })
}
