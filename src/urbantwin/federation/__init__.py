"""Connected twins: other cities' platforms registered, mirrored, proxied and harvested."""
