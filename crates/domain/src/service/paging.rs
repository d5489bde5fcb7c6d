//! A list's `page` and `perPage`, read as PocketBase reads them: a page below 1 is the first, a
//! `perPage` below 1 is the default and one above the maximum is the maximum. Any `i64` the
//! client sends is accepted, so the arithmetic on them saturates instead of overflowing.

pub(crate) const DEFAULT_PER_PAGE: i64 = 30;
pub(crate) const MAX_PER_PAGE: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    pub page: i64,
    pub per_page: i64,
}

impl Paging {
    pub fn new(page: i64, per_page: i64) -> Self {
        let per_page = match per_page {
            n if n <= 0 => DEFAULT_PER_PAGE,
            n => n.min(MAX_PER_PAGE),
        };
        Self {
            page: page.max(1),
            per_page,
        }
    }

    /// How many items come before this page.
    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    pub fn total_pages(self, total_items: i64) -> i64 {
        total_items.saturating_add(self.per_page - 1) / self.per_page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_i64_is_a_valid_request() {
        let p = Paging::new(i64::MAX, i64::MAX);
        assert_eq!((p.page, p.per_page, p.offset()), (i64::MAX, 1000, i64::MAX));
        let p = Paging::new(i64::MIN, i64::MIN);
        assert_eq!((p.page, p.per_page, p.offset()), (1, 30, 0));
        assert_eq!(Paging::new(3, 10).offset(), 20);
        assert_eq!(Paging::new(1, 10).total_pages(21), 3);
        assert_eq!(Paging::new(1, 1000).total_pages(i64::MAX), i64::MAX / 1000);
    }
}
