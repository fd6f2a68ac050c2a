"""What the bot makes from the data for people to keep, print or pass on: progress charts
(documents.charts), tally exports in XLSX, CSV, JSON and plain text (documents.tally_exports), and
check-in posters (documents.posters). Below handlers/ and bot/, above storage/ and texts/."""
