//! `ciq web` and `ciq cancel` against a real redis-server: every endpoint over HTTP,
//! the 401 gate, the cookie, CSRF, the refused address, actions and their audit log;
//! cancel in each state; pages rendered by a real headless Chromium.

mod actions;
mod api;
mod auth;
mod browser;
mod cancel;
pub mod http;
mod rates;
