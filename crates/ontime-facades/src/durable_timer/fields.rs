//! Where each field of the Durable Timer API lives in the native model, so that a native
//! refusal names the field the client sent.

/// The API's name for the native field at `path` (`target.http.url` → `callbackUrl`).
pub fn facade_field(path: &str) -> String {
    let mapped = match path {
        "schedule" | "schedule.at" => "executeAt",
        "target.http.url" => "callbackUrl",
        "target.http.timeout" => "callbackTimeoutSeconds",
        "retry" => "retryPolicy",
        "retry.max_attempts" => "retryPolicy.maxAttempts",
        "retry.initial_interval" => "retryPolicy.initialInterval",
        "retry.multiplier" => "retryPolicy.backoffMultiplier",
        "retry.max_interval" => "retryPolicy.maxInterval",
        "retry.max_duration" => "retryPolicy.maxAttemptsDuration",
        p if p.starts_with("target.http.body") => "payload",
        other => other,
    };
    mapped.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_paths_map_to_the_documents_names() {
        assert_eq!(facade_field("schedule.at"), "executeAt");
        assert_eq!(facade_field("target.http.body.payload.x"), "payload");
        assert_eq!(
            facade_field("retry.multiplier"),
            "retryPolicy.backoffMultiplier"
        );
        assert_eq!(facade_field("namespace"), "namespace");
    }
}
