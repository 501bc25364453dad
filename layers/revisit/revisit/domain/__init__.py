"""Domain services: the product's rules. They know neither HTTP nor DynamoDB."""
