"""Money (SPEC section 2): fees, commissions, settlements, platform-fee settlements, payments, receipts."""
