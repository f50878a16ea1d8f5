//! GET/PUT /api/v2/security_settings (admin): the session timeouts of SPEC §6. Every
//! request reads the settings afresh, so a change applies to live sessions at their next
//! request [C-41].

use crate::AppState;
use crate::api::auth::Principal;
use crate::api::error::ApiError;
use crate::api::json_response;
use crate::api::object_body;
use crate::api::openapi::{BadRequest, PayloadTooLarge, UnprocessableEntity};
use crate::api::wire::SecuritySettingsBody;
use crate::domain::SecuritySettings;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;

/// Every timeout is 1 … 20160 minutes (two weeks) [E-23].
pub const MAX_MINUTES: i64 = 20_160;

#[derive(Deserialize, ToSchema)]
pub struct SettingsBody {
    security_settings: SettingsPatch,
}

/// The settings to change; the others keep their values. Timeouts in minutes, 1 to 20160.
#[derive(Deserialize, ToSchema)]
struct SettingsPatch {
    #[schema(minimum = 1, maximum = 20160)]
    agent_session_timeout: Option<i64>,
    #[schema(minimum = 1, maximum = 20160)]
    end_user_session_timeout: Option<i64>,
    #[schema(minimum = 1, maximum = 20160)]
    maximum_session_duration: Option<i64>,
    maximum_session_duration_enabled: Option<bool>,
}

/// Show security settings
///
/// Admins only.
#[utoipa::path(
    get, path = "/api/v2/security_settings", operation_id = "ShowSecuritySettings", tag = "Security settings",
    responses((status = 200, description = "The session timeouts", body = SecuritySettingsBody)),
)]
pub async fn show(State(state): State<AppState>, principal: Principal) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let s = state.store.security_settings().await?;
    Ok(json_response(StatusCode::OK, &SecuritySettingsBody { security_settings: s }))
}

/// Update security settings
///
/// Admins only. Changes apply to live sessions at their next request [C-41]; a timeout out
/// of range is a 422 naming the field [E-23].
#[utoipa::path(
    put, path = "/api/v2/security_settings", operation_id = "UpdateSecuritySettings", tag = "Security settings",
    request_body = SettingsBody,
    responses(
        (status = 200, description = "The settings now in force", body = SecuritySettingsBody),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = UnprocessableEntity),
    ),
)]
pub async fn update(State(state): State<AppState>, principal: Principal, body: Body) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let body: SettingsBody = object_body(body, Some("security_settings")).await?;
    let p = body.security_settings;
    let current = state.store.security_settings().await?;
    let minutes = |field: &'static str, v: Option<i64>, old: i64| -> Result<i64, ApiError> {
        match v {
            None => Ok(old),
            Some(m) if (1..=MAX_MINUTES).contains(&m) => Ok(m),
            Some(_) => {
                Err(ApiError::invalid_field(field, &format!("{field} must be between 1 and {MAX_MINUTES} minutes")))
            }
        }
    };
    let next = SecuritySettings {
        agent_session_timeout: minutes(
            "agent_session_timeout",
            p.agent_session_timeout,
            current.agent_session_timeout,
        )?,
        end_user_session_timeout: minutes(
            "end_user_session_timeout",
            p.end_user_session_timeout,
            current.end_user_session_timeout,
        )?,
        maximum_session_duration: minutes(
            "maximum_session_duration",
            p.maximum_session_duration,
            current.maximum_session_duration,
        )?,
        maximum_session_duration_enabled: p
            .maximum_session_duration_enabled
            .unwrap_or(current.maximum_session_duration_enabled),
    };
    // Delete the sessions that have ended under the old settings first: a longer timeout
    // must not bring an ended session back.
    crate::server::sweep_once(&state).await?;
    state.store.put_security_settings(next).await?;
    tracing::info!(event = "security_settings_changed", by = principal.user.id, settings = ?next);
    Ok(json_response(StatusCode::OK, &SecuritySettingsBody { security_settings: next }))
}
