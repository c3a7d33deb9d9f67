//! The debug route the fraud API this server replaces offered for demos: write a
//! synthetic profile for a user into the configured feature store. Off unless
//! `--enable-debug-routes` is given; it must never be reachable by default.

use actix_web::HttpResponse;
use actix_web::web::{Data, Path};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use crate::core::schema::{FieldError, MAX_ID_LEN};
use crate::features::synth;
use crate::store::WriteError;

/// `POST /debug/populate-cache/{user_id}`: the profile now stored for that user.
pub async fn populate_cache(
    state: Data<AppState>,
    user_id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !state.debug_routes {
        return Err(ApiError::DebugRoutesOff);
    }
    let user_id = user_id.into_inner();
    if user_id.trim().is_empty() || user_id.len() > MAX_ID_LEN {
        return Err(ApiError::Invalid(FieldError::new(
            "user_id",
            format!("must be 1 to {MAX_ID_LEN} characters"),
        )));
    }
    let store = state.predictor.store();
    let profile = synth::user_for_id(state.synthetic_seed, &user_id);
    let stored = store
        .put_user(&user_id, profile)
        .await
        .map_err(|error| match error {
            WriteError::Full(full) => ApiError::StoreFull(full),
            WriteError::Redis(error) => {
                tracing::warn!(error = %error, "debug profile write failed");
                ApiError::StoreUnavailable
            }
        })?;
    Ok(HttpResponse::Ok().json(json!({
        "user_id": user_id,
        "store": store.kind(),
        "profile": stored,
    })))
}
