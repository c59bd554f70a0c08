"""Contact and school importers (plain CSV, SIECLE XML, ONDE CSV, STS-Web XML, zip archives)."""
