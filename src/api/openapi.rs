//! The OpenAPI 3.1 description of the HTTP API, served at `/api/v2/openapi.json`, and the
//! API docs page at `/api/docs` (Swagger UI, its assets compiled in: it works offline).
//!
//! It is generated from the code: every route is registered through its handler's
//! `#[utoipa::path]` annotation ([`crate::api::app`] builds the router from them with
//! `utoipa-axum`, so no route can be missing from the document), and every body is one of
//! the types that the handlers serialize ([`crate::api::wire`], [`crate::api::error`]).
//! [`finish`] then adds what the request pipeline does for every operation alike, rather
//! than repeating it on each handler:
//!
//! - the `.json` twin of every `/api/v2/…` path [C-4];
//! - the security schemes (basic, bearer, cookie + CSRF header) and, on every operation
//!   behind the [`crate::api::auth::Principal`] extractor, the requirement and the answers
//!   the extractor and the layers can give: 401, 403, 429, and the rate-limit headers;
//! - 408 (request timeout) and 503 (database unavailable), which any operation can answer;
//! - the single-session shape this server is configured for (`--session-as-array`).

use crate::api::error::{ErrorDescription, ErrorList, InvalidTokenError, RecordInvalid, TitledError, Unauthenticated};
use crate::config::Config;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Components, InfoBuilder, OpenApi, Ref, RefOr, ServerBuilder};
use utoipa::{PartialSchema, ToResponse, ToSchema};

/// Where the document is served (also without `.json`).
pub const DOCUMENT_PATH: &str = "/api/v2/openapi.json";
/// Where the docs page is served.
pub const DOCS_PATH: &str = "/api/docs";

const JSON: &str = "application/json";

// ---------------------------------------------------------------------------------------
// Schemas of parameters: what the handlers accept, though they parse the raw strings
// themselves (so that bad input gets Zendesk's errors, never a framework's).

/// Defines a marker type whose schema is a string enum.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident, [$($value:literal),+ $(,)?]) => {
        $(#[$doc])*
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([$($value),+]))
                    .into()
            }
        }
        impl ToSchema for $name {}
    };
}

string_enum!(
    /// `sort` of a list: a key, descending with a leading `-` [C-37].
    SortParam,
    ["id", "-id", "authenticated_at", "-authenticated_at", "last_seen_at", "-last_seen_at"]
);
string_enum!(
    /// `sort_by` of an offset list.
    SortByParam,
    ["id", "authenticated_at", "last_seen_at"]
);
string_enum!(
    /// `sort_order` of an offset list.
    SortOrderParam,
    ["asc", "desc"]
);

/// A `{user_id}` path segment: a user id, or `me` for the caller [C-6].
pub struct UserRef;

impl PartialSchema for UserRef {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(id_schema())
            .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["me"])))
            .into()
    }
}

impl ToSchema for UserRef {}

/// A positive 64-bit id, as every id in a path is.
pub struct Id;

impl PartialSchema for Id {
    fn schema() -> RefOr<Schema> {
        id_schema().into()
    }
}

impl ToSchema for Id {}

fn id_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(i64::MAX))
}

/// `ids=1,2,3`: 1 to 100 positive ids, comma-separated [C-24] [E-4].
pub struct IdList;

impl PartialSchema for IdList {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[1-9][0-9]{0,18}(,[1-9][0-9]{0,18}){0,99}$"))
            .into()
    }
}

impl ToSchema for IdList {}

// ---------------------------------------------------------------------------------------
// Error responses, shared by every operation that can give them (`response = …` in the
// annotations; registered under `components.responses` by `finish`).

fn schema_ref<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

fn error_response(description: &str, shapes: Vec<RefOr<Schema>>, headers: &[(&str, &str)]) -> Response {
    let schema: RefOr<Schema> = match <[RefOr<Schema>; 1]>::try_from(shapes) {
        Ok([one]) => one,
        Err(many) => many.into_iter().fold(OneOfBuilder::new(), |one_of, shape| one_of.item(shape)).into(),
    };
    let mut builder = ResponseBuilder::new()
        .description(description)
        .content(JSON, ContentBuilder::new().schema(Some(schema)).build());
    for (name, what) in headers {
        builder =
            builder.header(*name, HeaderBuilder::new().schema(Some(String::schema())).description(Some(*what)).build());
    }
    builder.build()
}

macro_rules! error_responses {
    ($($name:ident => $description:literal, [$($shape:ty),+], [$(($header:literal, $what:literal)),*];)+) => {
        $(
            #[doc = $description]
            pub struct $name;
            impl<'s> ToResponse<'s> for $name {
                fn response() -> (&'s str, RefOr<Response>) {
                    (stringify!($name), error_response($description, vec![$(schema_ref::<$shape>()),+], &[$(($header, $what)),*]).into())
                }
            }
        )+
        /// Every shared error response, for `components.responses`.
        fn error_responses() -> Vec<(&'static str, RefOr<Response>)> {
            vec![$(<$name as ToResponse>::response()),+]
        }
    };
}

error_responses! {
    BadRequest => "A query parameter that is not valid (`errors` list form), an unknown sort, or a body that is not the JSON object expected (`InvalidJSON`).",
        [ErrorDescription, ErrorList], [];
    Unauthorized => "No credentials, or bad ones: `Couldn't authenticate you` (Basic, API token, cookie), or `invalid_token` (OAuth bearer).",
        [Unauthenticated, InvalidTokenError], [("WWW-Authenticate", "`Basic realm=\"Web Password\"`, or a Bearer challenge for OAuth tokens")];
    Forbidden => "Not allowed: another user's data or an admin-only operation (the role message), a cookie write without a valid `X-CSRF-Token`, or an OAuth token without the scope.",
        [TitledError, ErrorDescription], [];
    NotFound => "`RecordNotFound`: no such user or session, not that user's session, or an id that is not a positive integer.",
        [ErrorDescription], [];
    UnprocessableEntity => "`RecordInvalid`: the fields named in `details` are not valid.",
        [RecordInvalid], [];
    PayloadTooLarge => "The request body is larger than 64 KiB.",
        [ErrorDescription], [];
    TooManyRequests => "Over the API rate limit, or sign-in is throttled after failed password checks.",
        [ErrorDescription], [("Retry-After", "Whole seconds to wait (at least 1)")];
    RequestTimeout => "The request took longer than the request timeout and was abandoned.",
        [ErrorDescription], [];
    Unavailable => "The database is unavailable; retry shortly.",
        [ErrorDescription], [("Retry-After", "Seconds to wait")];
}

// ---------------------------------------------------------------------------------------
// Finishing the generated document.

/// Completes the document `utoipa-axum` collected from the handlers (see the module docs).
pub fn finish(mut doc: OpenApi, config: &Config) -> OpenApi {
    doc.info = InfoBuilder::new()
        .title("sessiond")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "A self-hosted session service whose HTTP API is wire-compatible with the Zendesk Support \
             Sessions API. Every `/api/v2/…` path also answers with a `.json` suffix. Unknown query \
             parameters are ignored. In every `/api/v2/users/{user_id}/…` path, `me` means the caller.",
        ))
        .build();
    if let Some(url) = &config.public_url {
        doc.servers = Some(vec![ServerBuilder::new().url(url.clone()).build()]);
    }

    let components = doc.components.get_or_insert_with(Components::new);
    let basic = HttpBuilder::new()
        .scheme(HttpAuthScheme::Basic)
        .description(Some(
            "`email:password` (unless the server runs with --disable-password-auth), or \
             `email/token:API_TOKEN` with an API token.",
        ))
        .build();
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .description(Some("An OAuth access token: scope `read` allows GET, `write` every other method."))
        .build();
    components.security_schemes.insert("basic".into(), SecurityScheme::Http(basic).into());
    components.security_schemes.insert("bearer".into(), SecurityScheme::Http(bearer).into());
    components.security_schemes.insert(
        "cookie".into(),
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            config.cookie_name(),
            "The session cookie set by POST /access/login. Only this carrier has a current session.",
        )))
        .into(),
    );
    components.security_schemes.insert(
        "csrf".into(),
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-CSRF-Token",
            "The authenticity token (from sign-in, renew or GET /api/v2/users/me); cookie-authenticated writes need it.",
        )))
        .into(),
    );
    for (name, response) in error_responses() {
        components.responses.insert(name.to_owned(), response);
    }
    // The schemas those responses name (the schemas of bodies named in the annotations are
    // collected by utoipa-axum already).
    register::<ErrorDescription>(components);
    register::<ErrorList>(components);
    register::<Unauthenticated>(components);
    register::<InvalidTokenError>(components);
    register::<TitledError>(components);
    register::<RecordInvalid>(components);
    narrow_single_session(components, config);

    let mut paths = std::mem::take(&mut doc.paths.paths);
    for (path, item) in paths.iter_mut() {
        for (method, op) in operations(item) {
            complete_operation(path, method, op);
        }
        unique_operation_ids(item);
    }
    // The `.json` twins, next to their originals [C-4] [E-21].
    let mut with_twins = std::mem::take(&mut doc.paths.paths);
    for (path, item) in paths {
        let twin = json_twin(&path, &item);
        with_twins.insert(path.clone(), item);
        if let Some(twin) = twin {
            with_twins.insert(format!("{path}.json"), twin);
        }
    }
    doc.paths.paths = with_twins;
    doc
}

/// Adds `T`'s schema, and those it refers to, to the components.
fn register<T: ToSchema>(components: &mut Components) {
    let mut schemas = vec![(T::name().into_owned(), T::schema())];
    T::schemas(&mut schemas);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
}

/// The operations of a path item, with their methods.
fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("patch", item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// Whether an operation goes through the `Principal` extractor: every `/api/v2/…` path but
/// the document itself. (`tests/api/compat.rs` checks this against the server: every such
/// operation answers 401 without credentials.)
pub fn is_authenticated(path: &str) -> bool {
    path.starts_with("/api/v2/") && path != DOCUMENT_PATH.trim_end_matches(".json")
}

fn response_ref(name: &str) -> RefOr<Response> {
    RefOr::Ref(Ref::from_response_name(name))
}

fn complete_operation(path: &str, method: &str, op: &mut Operation) {
    let responses = &mut op.responses.responses;
    if is_authenticated(path) {
        let read = method == "get";
        let cookie = if read {
            SecurityRequirement::new("cookie", Vec::<String>::new())
        } else {
            SecurityRequirement::new("cookie", Vec::<String>::new()).add("csrf", Vec::<String>::new())
        };
        op.security = Some(vec![
            SecurityRequirement::new("basic", Vec::<String>::new()),
            SecurityRequirement::new("bearer", [if read { "read" } else { "write" }]),
            cookie,
        ]);
        for (_, response) in responses.iter_mut().filter(|(status, _)| status.starts_with('2')) {
            if let RefOr::T(response) = response {
                for (name, what) in [
                    ("X-Rate-Limit", "Requests allowed per minute for this user"),
                    ("X-Rate-Limit-Remaining", "Requests left in this minute"),
                ] {
                    response.headers.insert(
                        name.into(),
                        HeaderBuilder::new().schema(Some(i64::schema())).description(Some(what)).build().into(),
                    );
                }
            }
        }
        responses.entry("401".into()).or_insert_with(|| response_ref("Unauthorized"));
        responses.insert("403".into(), response_ref("Forbidden"));
        responses.entry("429".into()).or_insert_with(|| response_ref("TooManyRequests"));
    }
    responses.entry("408".into()).or_insert_with(|| response_ref("RequestTimeout"));
    responses.entry("503".into()).or_insert_with(|| response_ref("Unavailable"));
}

/// GET and DELETE of one handler share an operation id; make each one unique.
fn unique_operation_ids(item: &mut PathItem) {
    let ops = operations(item);
    if ops.len() < 2 {
        return;
    }
    let ids: Vec<Option<String>> = ops.iter().map(|(_, op)| op.operation_id.clone()).collect();
    for (method, op) in ops {
        if let Some(id) = &op.operation_id
            && ids.iter().filter(|other| other.as_ref() == Some(id)).count() > 1
        {
            op.operation_id = Some(format!("{id}{}", capitalized(method)));
        }
    }
}

fn capitalized(method: &str) -> String {
    let mut chars = method.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// The same operations under `{path}.json`, with their own operation ids.
fn json_twin(path: &str, item: &PathItem) -> Option<PathItem> {
    if !path.starts_with("/api/v2/") || path.ends_with(".json") {
        return None;
    }
    let mut twin = item.clone();
    for (_, op) in operations(&mut twin) {
        op.operation_id = op.operation_id.as_ref().map(|id| format!("{id}Json"));
    }
    Some(twin)
}

/// `session` in single-session bodies is an object, or under `--session-as-array` an array
/// of exactly one [C-21]: the document names the one this server writes.
fn narrow_single_session(components: &mut Components, config: &Config) {
    let session = schema_ref::<crate::api::wire::SessionJson>();
    let one: RefOr<Schema> = if config.session_as_array {
        ArrayBuilder::new().items(session).min_items(Some(1)).max_items(Some(1)).into()
    } else {
        session
    };
    components.schemas.insert(<crate::api::wire::OneSession as ToSchema>::name().into_owned(), one);
}

/// The document as served: JSON bytes, made once per application.
pub fn document_bytes(doc: &OpenApi) -> Vec<u8> {
    serde_json::to_vec(doc).unwrap_or_else(|_| b"{}".to_vec())
}

/// The served document, made once per application by [`crate::api::app`].
#[derive(Clone)]
pub struct Document(pub std::sync::Arc<Vec<u8>>);

/// An OpenAPI document (its own schema is not repeated here).
pub struct OpenApiObject;

impl PartialSchema for OpenApiObject {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Object).required("openapi").required("info").required("paths").into()
    }
}

impl ToSchema for OpenApiObject {}

/// The OpenAPI document
///
/// This description of the API, as OpenAPI 3.1 JSON. No credentials needed.
#[utoipa::path(
    get, path = "/api/v2/openapi", operation_id = "OpenApiDocument", tag = "Documentation",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = inline(OpenApiObject))),
)]
pub async fn serve_document(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
) -> Result<axum::response::Response, crate::api::error::ApiError> {
    use axum::response::IntoResponse;
    let Some(Document(bytes)) = state.openapi.get() else {
        return Err(crate::api::error::ApiError::Internal("the OpenAPI document was not made".into()));
    };
    let mut response = (axum::http::StatusCode::OK, bytes.as_ref().clone()).into_response();
    response
        .headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static(crate::api::JSON_CONTENT_TYPE));
    Ok(response)
}

/// What the docs page may load and do: only what this server serves (it works offline),
/// and never inside another site's frame.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                        frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The docs page: Swagger UI over [`DOCUMENT_PATH`], its assets compiled into the binary.
pub fn docs_router<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    use axum::http::{HeaderValue, header};
    use tower_http::set_header::SetResponseHeaderLayer;
    let ui: axum::Router<S> =
        utoipa_swagger_ui::SwaggerUi::new(DOCS_PATH).config(utoipa_swagger_ui::Config::from(DOCUMENT_PATH)).into();
    ui.layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
}
