//! concord's end-to-end tests, one binary (one build, one link) with a module per area.
//! They run the `concord` binary, the real model (`concord model fetch` first), real
//! sockets, real files and a real browser; `support` finds the checkout, the model and
//! the reference corpus. The fast tier (no model) is the crates' own unit tests.

mod support;

mod browser;
mod cli_collection;
mod cli_model;
mod cluster;
mod consistency;
mod golden;
mod server;
mod server_hardening;
mod server_limits;
mod store_postgres;
mod tokenizer_parity;
