"""The comparison studies behind ``evoneuro compare``: runs, tables, data sets and their plots."""
