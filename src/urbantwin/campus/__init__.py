"""The Digitalcampus: offers and events of digital education and the digital festival, searchable,
filtered, and exported as iCalendar."""
