//! `ApiError`: every error the HTTP API can answer, and the only place that writes error
//! JSON. Handlers return `Result<_, ApiError>`; the status codes and bodies live here.

use crate::store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

#[derive(Debug)]
pub enum ApiError {
    /// 401 "A": no or bad credentials (Basic, API token, cookie) [C-8] [C-9].
    Unauthenticated,
    /// 401 "B": a bad, expired or revoked OAuth bearer token [C-10].
    InvalidToken,
    /// 403: an OAuth token without the scope this method needs [C-11].
    MissingScope(&'static str),
    /// 403: a cookie-authenticated write without a valid `X-CSRF-Token` [C-12].
    InvalidAuthenticityToken,
    /// 403: a non-admin acting on another user or an admin-only endpoint [C-26] [E-3].
    Forbidden,
    /// 404: no such user or session, or not that user's [C-25].
    RecordNotFound,
    /// 404: unknown route or method under the API [C-27].
    InvalidEndpoint,
    /// 400: a body that is not JSON or not the expected shape [E-4].
    InvalidJson(String),
    /// 400: a query parameter that is not valid, in the `errors` list form [C-38] [E-4].
    InvalidParameter { code: &'static str, title: String },
    /// 400: an unknown sort [C-37].
    InvalidSort,
    /// 400: a bad `ids` list [E-4].
    InvalidValue(String),
    /// 422: validation failed; `details` maps field names to messages.
    RecordInvalid(Value),
    /// 413: the body is over the limit.
    PayloadTooLarge,
    /// 429: throttled; retry after this many seconds.
    TooManyRequests { retry_after: u64 },
    /// 408: the request took longer than the request timeout.
    RequestTimeout,
    /// 503: too many password checks are already waiting; retry shortly.
    Overloaded,
    /// 503: the database cannot be reached.
    Unavailable,
    /// 500: a bug or a broken database. The detail goes to the log, never to the client.
    Internal(String),
}

impl ApiError {
    pub fn invalid_parameter(param: &str) -> Self {
        ApiError::InvalidParameter { code: "InvalidPaginationParameter", title: format!("{param} is not valid") }
    }

    /// A 422 naming one field.
    pub fn invalid_field(field: &str, message: &str) -> Self {
        ApiError::RecordInvalid(json!({ field: [{ "description": message, "error": "InvalidValue" }] }))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::MissingScope(_) | ApiError::InvalidAuthenticityToken | ApiError::Forbidden => {
                StatusCode::FORBIDDEN
            }
            ApiError::RecordNotFound | ApiError::InvalidEndpoint => StatusCode::NOT_FOUND,
            ApiError::InvalidJson(_)
            | ApiError::InvalidParameter { .. }
            | ApiError::InvalidSort
            | ApiError::InvalidValue(_) => StatusCode::BAD_REQUEST,
            ApiError::RecordInvalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable | ApiError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body of this error, as one of the [`ErrorBody`] shapes.
    pub fn body(&self) -> ErrorBody {
        let described = |error: &str, description: &str| {
            ErrorBody::Described(ErrorDescription { description: description.to_owned(), error: error.to_owned() })
        };
        match self {
            ApiError::Unauthenticated => ErrorBody::Unauthenticated(Unauthenticated { error: UNAUTHENTICATED.into() }),
            ApiError::InvalidToken => ErrorBody::InvalidToken(InvalidTokenError {
                error: "invalid_token".into(),
                error_description: "The access token provided is expired, revoked, malformed or invalid for other reasons."
                    .into(),
            }),
            ApiError::MissingScope(scope) => {
                described("Forbidden", &format!("You are missing the following required scopes: {scope}"))
            }
            ApiError::InvalidAuthenticityToken => ErrorBody::Titled(TitledError {
                error: TitleMessage { message: "Invalid authenticity token".into(), title: "Forbidden".into() },
            }),
            ApiError::Forbidden => ErrorBody::Titled(TitledError {
                error: TitleMessage {
                    message: "You do not have access to this page. Please contact the account owner of this help desk for further help.".into(),
                    title: "Forbidden".into(),
                },
            }),
            ApiError::RecordNotFound => described("RecordNotFound", "Not found"),
            ApiError::InvalidEndpoint => described("InvalidEndpoint", "Not found"),
            ApiError::InvalidJson(what) => described("InvalidJSON", what),
            ApiError::InvalidParameter { code, title } => {
                ErrorBody::Listed(ErrorList { errors: vec![ErrorItem { code: (*code).to_owned(), title: title.clone() }] })
            }
            ApiError::InvalidSort => described("InvalidPaginationParameter", "sort is not valid"),
            ApiError::InvalidValue(what) => described("InvalidValue", what),
            ApiError::RecordInvalid(details) => ErrorBody::RecordInvalid(RecordInvalid {
                description: "Record validation errors".into(),
                details: details.clone(),
                error: "RecordInvalid".into(),
            }),
            ApiError::PayloadTooLarge => described("PayloadTooLarge", "The request body is larger than 64 KiB"),
            ApiError::TooManyRequests { .. } => described("TooManyRequests", "Too many requests; retry later"),
            ApiError::RequestTimeout => described("RequestTimeout", "The request took too long and was abandoned"),
            ApiError::Overloaded => described("ServerBusy", "Too many sign-ins at once; retry shortly"),
            ApiError::Unavailable => described("DatabaseUnavailable", "The database is unavailable; retry shortly"),
            ApiError::Internal(_) => described("InternalError", "Something went wrong"),
        }
    }
}

/// The 401 "A" message [C-8].
pub const UNAUTHENTICATED: &str = "Couldn't authenticate you";

/// Every error body, in the shapes Zendesk uses. Field order is alphabetical, as Zendesk
/// writes it; `deny_unknown_fields` only makes the schemas say `additionalProperties: false`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ErrorBody {
    Described(ErrorDescription),
    Unauthenticated(Unauthenticated),
    InvalidToken(InvalidTokenError),
    Titled(TitledError),
    Listed(ErrorList),
    RecordInvalid(RecordInvalid),
}

/// `{"error": "RecordNotFound", "description": "Not found"}` and most other errors.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDescription {
    pub description: String,
    /// A code such as `RecordNotFound`, `InvalidEndpoint`, `InvalidJSON`, `InvalidValue`.
    pub error: String,
}

/// 401 "A": `{"error": "Couldn't authenticate you"}` [C-8].
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Unauthenticated {
    #[schema(value_type = String, pattern = "^Couldn't authenticate you$")]
    pub error: String,
}

/// 401 "B": a bad OAuth bearer token [C-10].
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvalidTokenError {
    #[schema(pattern = "^invalid_token$")]
    pub error: String,
    pub error_description: String,
}

/// 403 role or CSRF: `{"error": {"title": "Forbidden", "message": …}}` [C-12] [C-26].
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TitledError {
    pub error: TitleMessage,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TitleMessage {
    pub message: String,
    pub title: String,
}

/// 400 in the list form: `{"errors": [{"code": …, "title": …}]}` [C-38] [E-4].
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorList {
    #[schema(min_items = 1)]
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorItem {
    /// `InvalidPaginationParameter` or `InvalidPaginationDepth`.
    pub code: String,
    pub title: String,
}

/// 422: validation failed; `details` maps each field to what is wrong with it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInvalid {
    pub description: String,
    #[schema(value_type = std::collections::BTreeMap<String, Vec<FieldError>>)]
    pub details: Value,
    pub error: String,
}

/// One problem with one field of a 422.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldError {
    pub description: String,
    /// `InvalidValue`.
    pub error: String,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ApiError::Unavailable,
            StoreError::Conflict(field) => ApiError::invalid_field(field, &format!("{field} is already taken")),
            StoreError::Other(msg) => ApiError::Internal(msg),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            ApiError::Unavailable => tracing::warn!("database unavailable"),
            _ => {}
        }
        let mut response = (self.status(), crate::api::json_bytes(&self.body())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::api::JSON_CONTENT_TYPE));
        match &self {
            ApiError::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Web Password\""));
            }
            ApiError::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"sessiond\", error=\"invalid_token\""),
                );
            }
            ApiError::TooManyRequests { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from((*retry_after).max(1)));
            }
            ApiError::Unavailable | ApiError::Overloaded => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}
