//! Reading the answers of the JSON API: the body, and the spec's stable error code
//! (`{"error":{"code",…}}`).

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// The status and the JSON body (`null` when the body is not JSON).
pub async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// The status and the error code of a JSON error body (empty when there is none).
pub async fn code_of(response: Response) -> (StatusCode, String) {
    let (status, body) = json_of(response).await;
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, code)
}
