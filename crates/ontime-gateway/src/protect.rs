//! What the gateway does to a target before anything stores it: a URL whose host is a
//! forbidden literal address is refused, prerequisites must exist in the namespace, and
//! secret headers are sealed with the installation's key, so that no stream, bucket or log
//! ever holds them in clear.

use ontime_core::ValidationError;
use ontime_core::command::{Command, CommandBody};
use ontime_core::id::Namespace;
use ontime_core::target::HttpTarget;
use ontime_core::timer::TimerSpec;
use ontime_core::trust::seal::SecretKey;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use ontime_core::trust::access::Role;

/// Checks and seals the HTTP target of `command`, whole (a definition) or in part (a patch);
/// the error names the field from the command's body.
pub fn command(state: &AppState, command: &mut Command) -> Result<(), ValidationError> {
    let ns = command.namespace.clone();
    if runs_command(command) {
        commands_enabled(state, &ns)?;
    }
    match &mut command.body {
        CommandBody::Upsert { spec, .. } => spec_target(state, &ns, spec),
        CommandBody::Patch { patch } => match patch.pointer_mut("/target/http") {
            Some(http) => patched(state, &ns, http).map_err(|e| e.within("target.http")),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Checks and seals a definition's HTTP target; a command target must be in a namespace
/// enabled for commands.
pub fn spec_target(
    state: &AppState,
    ns: &Namespace,
    spec: &mut TimerSpec,
) -> Result<(), ValidationError> {
    if spec.target.command.is_some() {
        commands_enabled(state, ns)?;
    }
    match &mut spec.target.http {
        Some(http) => http_target(state, ns, http).map_err(|e| e.within("target.http")),
        None => Ok(()),
    }
}

/// Whether `command` defines a command target (a definition, or a patch that sets one).
pub fn runs_command(command: &Command) -> bool {
    match &command.body {
        CommandBody::Upsert { spec, .. } => spec.target.command.is_some(),
        CommandBody::Patch { patch } => patch_sets_command(patch),
        _ => false,
    }
}

/// Whether a patch gives the timer a command target (or changes its command).
pub fn patch_sets_command(patch: &Value) -> bool {
    patch
        .pointer("/target/command")
        .is_some_and(|c| !c.is_null())
}

/// Only the namespaces the operator named may hold command timers.
fn commands_enabled(state: &AppState, ns: &Namespace) -> Result<(), ValidationError> {
    if state.config.command_namespaces.contains(ns) {
        return Ok(());
    }
    Err(ValidationError::invalid(
        "target.command",
        format!("namespace {ns} is not enabled for commands (the operator's --command-namespaces)"),
    ))
}

/// Defining a command target takes the `command` role in its namespace.
pub fn may_run_commands(caller: &Caller, ns: &Namespace) -> Result<(), ApiError> {
    caller.require(Role::Command, ns)
}

/// Checks and seals an HTTP target; fields are named from the target.
pub fn http_target(
    state: &AppState,
    ns: &Namespace,
    http: &mut HttpTarget,
) -> Result<(), ValidationError> {
    guard(state, &http.url)?;
    for (i, name) in http.prerequisites.iter().enumerate() {
        known(state, ns, name).map_err(|e| e.within(&format!("prerequisites.{i}")))?;
    }
    if !http.secret_headers.is_empty() {
        let key = key(state).map_err(|e| e.within("secret_headers"))?;
        for value in http.secret_headers.values_mut() {
            *value = seal(key, value);
        }
    }
    Ok(())
}

/// The same checks on the fields of a patch of `target.http` (a merge patch: a field given
/// replaces the stored one, so only what it gives is looked at).
fn patched(state: &AppState, ns: &Namespace, http: &mut Value) -> Result<(), ValidationError> {
    if let Some(url) = http.get("url").and_then(Value::as_str) {
        guard(state, url)?;
    }
    if let Some(names) = http.get("prerequisites").and_then(Value::as_array) {
        for (i, name) in names.iter().enumerate() {
            if let Some(name) = name.as_str() {
                known(state, ns, name).map_err(|e| e.within(&format!("prerequisites.{i}")))?;
            }
        }
    }
    if let Some(Value::Object(headers)) = http.get_mut("secret_headers")
        && !headers.is_empty()
    {
        let key = key(state).map_err(|e| e.within("secret_headers"))?;
        for value in headers.values_mut() {
            if let Value::String(secret) = value {
                *secret = seal(key, secret);
            }
        }
    }
    Ok(())
}

fn guard(state: &AppState, url: &str) -> Result<(), ValidationError> {
    state
        .config
        .guard
        .check_url(url)
        .map_err(|refusal| ValidationError::invalid("url", refusal.to_string()))
}

fn known(state: &AppState, ns: &Namespace, name: &str) -> Result<(), ValidationError> {
    match state.trust.prerequisite(ns, name) {
        Some(_) => Ok(()),
        None => Err(ValidationError::invalid(
            "",
            format!("namespace {ns} has no prerequisite {name:?}"),
        )),
    }
}

/// The installation's key; refused when it has none.
pub fn key(state: &AppState) -> Result<&SecretKey, ValidationError> {
    state.config.secret_key.as_ref().ok_or_else(|| {
        ValidationError::invalid(
            "",
            "this installation has no secret key (ONTIME_SECRET_KEY), so it cannot keep secrets",
        )
    })
}

/// `secret` sealed under a fresh nonce.
pub fn seal(key: &SecretKey, secret: &str) -> String {
    key.seal(secret.as_bytes(), rand::random())
}
