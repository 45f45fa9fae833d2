//! Billing on the pages and in the admin views (hub.md §10, §9): the account page's billing
//! section, the member view's payments and the stats' `donations_30d`.
