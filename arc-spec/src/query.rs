//! The reserved query parameters of a list: never filters, so no field may be filtered under
//! their name.

use std::fmt;

/// A query parameter of the list grammar that is not a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueryParam {
    /// `page`: the page number (offset paging).
    Page,
    /// `limit`: rows per page.
    Limit,
    /// `after`: the keyset cursor.
    After,
    /// `sort`: the sort keys.
    Sort,
    /// `select`: the fields to return.
    Select,
    /// `search`: the text search.
    Search,
    /// `populate`: the referenced rows to embed (`populate=category`, or
    /// `populate[category][select]=name,slug` with a select of the embedded rows).
    Populate,
}

impl QueryParam {
    /// Every reserved parameter.
    pub const ALL: [QueryParam; 7] = [
        QueryParam::Page,
        QueryParam::Limit,
        QueryParam::After,
        QueryParam::Sort,
        QueryParam::Select,
        QueryParam::Search,
        QueryParam::Populate,
    ];

    /// Its name in the query string.
    pub const fn name(self) -> &'static str {
        match self {
            QueryParam::Page => "page",
            QueryParam::Limit => "limit",
            QueryParam::After => "after",
            QueryParam::Sort => "sort",
            QueryParam::Select => "select",
            QueryParam::Search => "search",
            QueryParam::Populate => "populate",
        }
    }

    /// The reserved parameter `name` is, if it is one.
    pub fn from_name(name: &str) -> Option<QueryParam> {
        QueryParam::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether `name` is a reserved parameter (and so cannot be a filter).
    pub fn is_reserved(name: &str) -> bool {
        QueryParam::from_name(name).is_some()
    }
}

impl fmt::Display for QueryParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
