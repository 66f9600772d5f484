//! Switchboard's engine: the adapters (embedded SQLite store), the Web API and
//! real-time socket on warp, configuration, and [`Engine`], which composes them
//! for the node binary or for a host program that embeds Switchboard.

pub mod admin;
pub mod api;
pub mod auth;
pub mod billing;
pub mod config;
pub mod directory;
pub mod engine;
pub mod files;
pub mod gateway;
pub mod http;
pub mod jobs;
pub mod seed;
pub mod socket;
pub mod store;
pub mod web;
pub mod web_auth;
pub mod webhooks;

pub use config::Config;
pub use engine::{Engine, EngineError};
