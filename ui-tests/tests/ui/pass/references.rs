use arc_runtime::prelude::*;

/// Two resources that reference each other: their field tables do not depend on each other.
#[resource]
#[permissions(default = authenticated)]
pub struct Author {
    #[field(id)]
    pub id: Uuid,
    #[field(references = Book)]
    pub best_book: Option<Uuid>,
}

/// `?populate=author` embeds the author beside `author_id`.
#[resource(query(populate = [author]))]
#[permissions(default = authenticated)]
pub struct Book {
    #[field(id)]
    pub id: Uuid,
    #[field(references = Author)]
    pub author_id: Uuid,
    #[field(references = Shelf)]
    pub shelf: i64,
    /// The book it follows: a reference to its own resource.
    #[field(references = Self)]
    pub sequel_of: Option<Uuid>,
}

#[resource]
#[permissions(default = authenticated)]
pub struct Shelf {
    #[field(id)]
    pub id: i64,
}

fn main() {
    use arc_runtime::Resource;
    let target = Book::META.fields[1].references.expect("a reference");
    assert_eq!(target().name, "author");
    assert_eq!((Author::META.fields[1].references.unwrap())().name, "book");
    assert!(Book::META.fields[0].references.is_none());
    assert_eq!(Book::META.fields[1].populate, Some("author"));
    assert_eq!(Book::META.populated("author").map(|(i, _)| i), Some(1));
    assert!(Book::META.fields[2].populate.is_none());
}
