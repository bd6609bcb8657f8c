"""Files for people: form and checklist PDFs, entry workbooks, plan and report - tables in, files out."""
